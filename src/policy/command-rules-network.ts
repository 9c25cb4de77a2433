import { operandSpec } from './command-catalogue.js';
import type { Findings } from './command-findings.js';
import { optionValues, parseArgs } from './command-options.js';
import { judgeOperands } from './command-rules.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * Network tools: URLs of curl and wget (judged by the SSRF rules), raw sockets and
 * listeners, remote shells' local-command options, pip's index URLs.
 */

export const curl: ToolRule = ({ args, layer }, out) => {
  const spec = operandSpec('curl');
  const parsed = parseArgs(args, { values: [...(spec.values ?? []), ...Object.keys(spec.paths ?? {}), '-d', '--data', '--data-binary', '--data-raw', '--data-ascii', '-F', '--form', '-K', '--config', '--url', '--libcurl', '-E'] });
  for (const option of parsed.options) {
    const value = option.value ?? '';
    const use = spec.paths?.[option.name];
    if (use) out.path(use, value, `curl ${option.name}`);
    else if (['-K', '--config'].includes(option.name)) out.deny('command.exec-option', 'high', 'curl --config reads options (output files, URLs) the rules cannot see');
    else if (option.name === '--libcurl') out.path('write', value, 'curl --libcurl');
    else if (['-d', '--data', '--data-binary', '--data-ascii'].includes(option.name) && value.startsWith('@')) out.path('read', value.slice(1), `curl ${option.name}`);
    else if (['-F', '--form'].includes(option.name) && /=[@<]/.test(value)) out.path('read', value.replace(/^[^=]*=[@<]/, '').split(';')[0]!, `curl ${option.name}`);
    else if (['-x', '--proxy', '--url'].includes(option.name)) urlArgument(value, `curl ${option.name}`, out);
    else if (['--connect-to', '--resolve', '--dns-servers', '--interface', '--preproxy', '--doh-url', '--unix-socket', '--abstract-unix-socket'].includes(option.name)) {
      out.deny('command.network-override', 'high', `curl ${option.name} sends the request somewhere other than the checked address`);
    } else if (value.startsWith('@') && value.length > 1) out.path('read', value.slice(1), `curl ${option.name} @file`);
  }
  if (parsed.options.some((o) => o.name === '-O' || o.name === '--remote-name')) out.path('write', '.', 'curl -O writes into the working directory');
  for (const operand of parsed.operands) urlArgument(operand, layer.name, out);
};

export const wget: ToolRule = ({ args }, out) => {
  const spec = operandSpec('wget');
  const parsed = parseArgs(args, { values: [...(spec.values ?? []), ...Object.keys(spec.paths ?? {}), '-e', '--execute', '--use-askpass'] });
  for (const option of parsed.options) {
    const use = spec.paths?.[option.name];
    if (use && option.value !== undefined) {
      if (option.value !== '-') out.path(use, option.value, `wget ${option.name}`);
    } else if (['-e', '--execute', '--use-askpass', '--config'].includes(option.name)) {
      out.deny('command.exec-option', 'high', `wget ${option.name} runs wgetrc commands or programs`);
    }
  }
  const toStdout = parsed.options.some((o) => (o.name === '-O' || o.name === '--output-document') && o.value === '-');
  if (!toStdout && !parsed.options.some((o) => o.name === '-O' || o.name === '--output-document' || o.name === '--spider')) out.path('write', '.', 'wget saves into the working directory');
  for (const operand of parsed.operands) urlArgument(operand, 'wget', out);
};

/**
 * The URL as the SSRF rules will read it. curl and wget parse URLs themselves and
 * disagree with WHATWG on backslashes and on `@` (`http://1.1.1.1\\@169.254.169.254/`
 * is 1.1.1.1 to one and 169.254.169.254 to the other), so such URLs are refused
 * outright rather than guessed at.
 */
function urlArgument(value: string, why: string, out: Findings): void {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value)?.[1] ?? value.split(/[/?#]/)[0] ?? '';
  if (value.includes('\\') || authority.includes('@')) {
    out.deny('url.userinfo', 'high', `${why}: ${JSON.stringify(value)} has a backslash or user information, which curl, wget and the URL standard read differently`);
    return;
  }
  out.url(/^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `http://${value}`, why);
}

export const listeners: ToolRule = ({ args, layer }, out) => {
  if (layer.name === 'socat') {
    const bad = args.find((a) => /^(exec|system)[:,]/i.test(a) || /(^|[:,])(exec|system):/i.test(a) || /listen/i.test(a));
    if (bad) out.deny('command.reverse-shell', 'critical', `socat ${JSON.stringify(bad)} runs a program on a connection or listens`);
    return;
  }
  if (layer.name === 'openssl') {
    openssl(args, out);
    return;
  }
  const parsed = parseArgs(args, { values: ['-p', '-s', '-w', '-i', '-q', '-x', '-X', '--source', '--source-port', '-o', '--output', '--proxy', '--proxy-type'] });
  const bad = parsed.options.find((o) => ['-e', '-c', '-l', '--exec', '--sh-exec', '--lua-exec', '--listen', '-L'].includes(o.name));
  if (bad) out.deny('command.reverse-shell', 'critical', `${layer.name} ${bad.name} ${['-l', '--listen', '-L'].includes(bad.name) ? 'listens for connections' : 'runs a program on the connection'}`);
  else out.deny('command.raw-network', 'medium', `${layer.name} opens raw network connections; use curl or the HTTP tools`);
};

export const pip: ToolRule = ({ args }, out) => {
  for (const [i, arg] of args.entries()) {
    if (['-i', '--index-url', '--extra-index-url', '-f', '--find-links'].includes(arg) && args[i + 1] !== undefined && /^https?:/i.test(args[i + 1]!)) out.url(args[i + 1]!, `pip ${arg}`);
    if (['--user', '--root', '--prefix', '--target', '-t'].includes(arg)) out.deny('command.exec-option', 'medium', `pip ${arg} installs outside the workspace`);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg) || /@\s*[a-z+]+:\/\//i.test(arg)) urlArgument(arg.replace(/^.*@\s*(?=[a-z+]+:\/\/)/i, '').replace(/^git\+/, ''), `pip ${args[0] ?? ''} URL`, out);
  }
};

/** The client connections of openssl reach any address: judged as URLs; s_server listens. */
function openssl(args: readonly string[], out: Findings): void {
  const [sub, ...rest] = args;
  const spec = operandSpec('openssl');
  const client = sub === 's_client' || sub === 's_time';
  if (sub === 's_server') out.deny('command.reverse-shell', 'high', 'openssl s_server listens for connections');
  // A client's operand is host:port, not a file.
  judgeOperands('openssl', rest, client ? { ...spec, args: 'text' } : spec, false, out);
  if (!client) return;
  const parsed = parseArgs(rest, { values: [...(spec.values ?? []), ...Object.keys(spec.paths ?? {})] });
  const host = optionValues(parsed, '-host')[0];
  const port = optionValues(parsed, '-port')[0];
  // Without -connect (or a host:port operand) s_client connects to localhost:4433.
  const targets = [...optionValues(parsed, '-connect', '-proxy'), ...parsed.operands];
  if (targets.length === 0) targets.push(`${host ?? 'localhost'}:${port ?? '4433'}`);
  // host:port, so the scheme is ours (`localhost:4433` is not a URL with scheme localhost).
  for (const target of targets) urlArgument(target.includes('://') ? target : `https://${target}`, `openssl ${sub}`, out);
}

/** rsync and scp operands written `host:path` or `rsync://…` are on another machine; the rest are local paths. */
const isRemoteOperand = (operand: string): boolean => /^[^/]*:/.test(operand);

export const remoteExecOptions: ToolRule = ({ args, layer, stdinFromPipe, stdinContent }, out) => {
  const bad = args.find((a, i) => /^(-o)?(ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand|Match)\b/i.test(a.replace(/^-o/, '')) && (a.startsWith('-o') || args[i - 1] === '-o'));
  if (bad !== undefined) out.deny('command.exec-option', 'critical', `${layer.name} option ${JSON.stringify(bad)} runs a local command`);
  if (layer.name === 'rsync' && args.some((a) => a === '-e' || a.startsWith('--rsh') || a.startsWith('--rsync-path') || /^-[a-zA-Z]*e/.test(a))) {
    out.deny('command.exec-option', 'critical', 'rsync -e/--rsh/--rsync-path runs a command');
  }
  // Copies between local paths (or to and from them) are judged as cp is: in permissive,
  // where remote-shell is relaxed, rsync and scp are otherwise a copy the path rules never see.
  if (layer.name === 'rsync' || layer.name === 'scp' || layer.name === 'sftp') {
    judgeOperands(layer.name, args, operandSpec(layer.name), layer.unseenOperands, out, (operand) => !isRemoteOperand(operand));
  }
  // sftp runs `!command` lines of its batch input locally; piped input is unseen.
  if (layer.name === 'sftp') {
    if (stdinFromPipe) out.deny('command.pipe-to-interpreter', 'critical', 'piping into sftp runs the previous command\'s output as sftp commands, local `!command` lines included');
    else if (stdinContent !== undefined && /^\s*-?!/m.test(stdinContent)) out.deny('command.inline-code', 'high', 'sftp !command runs a local shell command');
  }
};
