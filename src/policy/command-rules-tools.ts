import { operandSpec } from './command-catalogue.js';
import type { Findings } from './command-findings.js';
import { optionValues, parseArgs } from './command-options.js';
import { judgeOperands, type LayerContext } from './command-rules.js';

/**
 * Tools whose options can run other programs, write where their operands do not
 * say, or reach the network — each judged by what its arguments mean.
 */

export type ToolRule = (ctx: LayerContext & { args: readonly string[] }, out: Findings) => void;

const FIND_ACTIONS = new Set(['-exec', '-execdir', '-ok', '-okdir', '-delete', '-fprint', '-fprint0', '-fprintf', '-fls']);

const find: ToolRule = ({ args }, out) => {
  const follow = args.find((a) => a === '-L' || a === '-follow');
  if (follow !== undefined) out.deny('command.follow-symlinks', 'medium', `find ${follow} follows symbolic links, which can lead out of the workspace`);
  for (const arg of args) {
    if (FIND_ACTIONS.has(arg)) out.deny('command.exec-option', 'high', `find ${arg} ${arg === '-delete' ? 'deletes files' : arg.startsWith('-f') ? 'writes files' : 'runs a command for each file'}`);
  }
  // Starting points follow the options -H, -L, -P, -D debugopts and -Olevel.
  let i = 0;
  while (i < args.length && /^-([HLP]+|O\d*|D)$/.test(args[i]!)) i += args[i] === '-D' ? 2 : 1;
  for (const arg of args.slice(i)) {
    if (arg.startsWith('-') || arg === '(' || arg === '!' || arg === ')' || arg === ',') break;
    out.path('list', arg, 'find starting point');
  }
};

const TAR_EXEC = ['--checkpoint-action', '--to-command', '--use-compress-program', '-I', '--rsh-command', '--info-script', '--new-volume-script', '-F', '--rmt-command', '--absolute-names', '-P'];

const tar: ToolRule = ({ args }, out) => {
  // Old style: `tar xzf file` — the first word is a cluster of letters without a dash.
  const normalised = args.length > 0 && !args[0]!.startsWith('-') ? [`-${args[0]}`, ...args.slice(1)] : [...args];
  const parsed = parseArgs(normalised, { values: ['-f', '--file', '-C', '--directory', '-T', '--files-from', '-X', '--exclude-from', '-b', '-H', '--format', '--exclude', '--transform', '--strip-components', '-I', '--use-compress-program', '-F', '--info-script', '--checkpoint-action', '--to-command', '--rsh-command', '--owner', '--group', '--mode', '--mtime'] });
  const follow = parsed.options.find((o) => o.name === '-h' || o.name === '--dereference');
  if (follow) out.deny('command.follow-symlinks', 'medium', `tar ${follow.name} follows symbolic links, which can lead out of the workspace`);
  const bad = parsed.options.find((o) => TAR_EXEC.includes(o.name));
  if (bad) out.deny('command.exec-option', 'high', `tar ${bad.name} ${bad.name === '-P' || bad.name === '--absolute-names' ? 'writes to absolute paths' : 'runs another program'}`);
  const extracting = parsed.options.some((o) => ['-x', '--extract', '--get'].includes(o.name));
  const creating = parsed.options.some((o) => ['-c', '--create', '-r', '--append', '-u', '--update'].includes(o.name));
  for (const file of optionValues(parsed, '-f', '--file')) if (file !== '-') out.path(creating ? 'write' : 'read', file, 'tar archive');
  const dirs = optionValues(parsed, '-C', '--directory');
  for (const dir of dirs) out.path(extracting ? 'write' : 'read', dir, 'tar -C');
  if (extracting && dirs.length === 0) out.path('write', '.', 'tar extracts into the working directory');
  for (const list of optionValues(parsed, '-T', '--files-from', '-X', '--exclude-from')) out.path('read', list, 'tar file list');
  for (const operand of parsed.operands) out.path(extracting ? 'write' : 'read', operand, 'tar member');
};

const sed: ToolRule = ({ args, layer }, out) => {
  const parsed = parseArgs(args, { values: ['-e', '--expression', '-f', '--file', '-l', '--line-length'] });
  const scripts = optionValues(parsed, '-e', '--expression');
  const files = optionValues(parsed, '-f', '--file');
  if (scripts.length === 0 && files.length === 0 && parsed.operands[0] !== undefined) scripts.push(parsed.operands[0]);
  for (const script of scripts) {
    const problem = sedScriptProblem(script);
    if (problem) out.deny('command.exec-option', 'high', `the sed script ${problem}`);
  }
  judgeOperands('sed', args, operandSpec('sed'), layer.unseenOperands, out);
};

/** GNU sed's `e` command and `s///e` run commands; `w` writes files the path rules never see. */
export function sedScriptProblem(script: string): string | undefined {
  let i = 0;
  const n = script.length;
  while (i < n) {
    // Skip separators and addresses (line numbers, $, /regex/, \cregexc, ranges, steps, !).
    while (i < n && /[\s;{}!,0-9$~+]/.test(script[i]!)) i++;
    if (script[i] === '/' || script[i] === '\\') {
      const delim = script[i] === '\\' ? script[++i] : '/';
      i++;
      while (i < n && script[i] !== delim) i += script[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const command = script[i];
    if (command === undefined) break;
    i++;
    if (command === 'e') return 'runs a command (e)';
    if (command === 'w' || command === 'W') return 'writes a file (w)';
    if (command === 'r' || command === 'R') return 'reads a file (r)';
    if (command === 's' || command === 'y') {
      const delim = script[i++];
      for (let part = 0; part < 2; part++) {
        while (i < n && script[i] !== delim) i += script[i] === '\\' ? 2 : 1;
        i++;
      }
      if (command === 's') {
        const flags = /^[^;\n}]*/.exec(script.slice(i))![0];
        if (flags.includes('e')) return 'runs the replacement as a command (s///e)';
        if (flags.includes('w')) return 'writes a file (s///w)';
        i += flags.length;
      }
      continue;
    }
    if ('aic'.includes(command) || ':bTt'.includes(command)) {
      // text or label to the end of the line
      while (i < n && script[i] !== '\n') i++;
    }
  }
  return undefined;
}

const GIT_EXEC_CONFIG = /^(core\.(sshcommand|pager|editor|fsmonitor|hookspath|gitproxy|askpass|alternaterefscommand)|credential\..*|diff\..*\.(textconv|command)|diff\.external|filter\..*|merge\..*\.driver|alias\..*|sequence\.editor|gpg\..*program|pager\..*|protocol\..*\.allow|uploadpack\..*|receive\..*|remote\..*\.(uploadpack|receivepack|proxy)|include\..*|includeif\..*|http\..*proxy|url\..*\.insteadof|ssh\.variant|interactive\.difffilter|sendemail\..*|web\.browser|browser\..*|man\..*)$/i;
const GIT_EXEC_SUBCOMMANDS: Record<string, string[]> = {
  submodule: ['foreach'],
  bisect: ['run'],
  rebase: ['--exec', '-x'],
  difftool: ['-x', '--extcmd'],
  grep: ['-O', '--open-files-in-pager'],
  archive: ['--exec', '--remote'],
  clone: ['--upload-pack', '-u', '--template', '--config', '-c'],
  fetch: ['--upload-pack'],
  pull: ['--upload-pack'],
  push: ['--receive-pack', '--exec'],
  'ls-remote': ['--upload-pack'],
};
const GIT_PATH_OPTIONS: Record<string, 'read' | 'write'> = {
  '--output': 'write',
  '-o': 'write',
  '--output-directory': 'write',
  '--contents': 'read',
  '--ignore-revs-file': 'read',
  '--pathspec-from-file': 'read',
};
const GIT_REMOTE_SUBCOMMANDS = new Set(['clone', 'fetch', 'pull', 'push', 'ls-remote', 'remote', 'submodule']);

const git: ToolRule = ({ args }, out) => {
  const globals = parseArgs(args, { values: ['-C', '-c', '--git-dir', '--work-tree', '--namespace', '--config-env', '--exec-path', '--super-prefix'], stopAtOperand: true });
  for (const option of globals.options) {
    if (option.name === '-c' && option.value !== undefined && GIT_EXEC_CONFIG.test(option.value.split('=')[0]!)) {
      out.deny('command.exec-option', 'high', `git -c ${option.value.split('=')[0]} can make git run a command`);
    }
    if (option.name === '--config-env' || option.name === '--exec-path' || option.name === '--super-prefix') {
      out.deny('command.exec-option', 'high', `git ${option.name} changes what git executes`);
    }
    if (['-C', '--git-dir', '--work-tree'].includes(option.name) && option.value !== undefined) out.path('read', option.value, `git ${option.name}`);
  }
  const rest = args.slice(globals.firstOperandIndex);
  const sub = rest[0];
  if (sub === undefined) return;
  const subArgs = rest.slice(1);
  if (sub === 'filter-branch') out.deny('command.exec-option', 'high', 'git filter-branch runs shell snippets');
  if (sub === 'config') gitConfig(subArgs, out);
  const execFlags = GIT_EXEC_SUBCOMMANDS[sub];
  if (execFlags) {
    const hit = subArgs.find((a) => execFlags.some((f) => a === f || a.startsWith(`${f}=`) || (f.length === 2 && !f.startsWith('--') && a.startsWith(f))));
    if (hit) out.deny('command.exec-option', 'high', `git ${sub} ${hit} runs a command`);
  }
  for (const arg of subArgs) {
    if (/^(ext|fd)::/.test(arg)) out.deny('command.exec-option', 'critical', `git transport ${JSON.stringify(arg)} runs a command`);
    else if (/^https?:\/\//i.test(arg) && GIT_REMOTE_SUBCOMMANDS.has(sub)) out.url(arg, `git ${sub}`);
    else if (/^file:\/\//i.test(arg)) out.path('read', arg.slice('file://'.length), `git ${sub} file URL`);
  }
  const parsedSub = parseArgs(subArgs, { values: ['-m', '--message', '-b', '-B', '--branch', '--author', '--format', '--pretty', '-n', '--depth', '-o', '--origin', '-F', '--file', '-S', '-G', '--grep', '--since', '--until', '--date', ...Object.keys(GIT_PATH_OPTIONS)] });
  for (const file of optionValues(parsedSub, '-F', '--file')) out.path('read', file, `git ${sub} ${'-F'}`);
  // Options that name files (`git diff --output=/path`, `git blame --contents=file`).
  for (const option of parsedSub.options) {
    const use = GIT_PATH_OPTIONS[option.name];
    if (use !== undefined && option.value !== undefined) out.path(use, option.value, `git ${sub} ${option.name}`);
  }
  for (const operand of parsedSub.operands) {
    if (/^[a-z+]+:\/\//i.test(operand) || /^[\w.-]+@[\w.-]+:/.test(operand)) continue;
    if (operand.startsWith('/') || operand.startsWith('..') || operand.includes('/../')) out.path(sub === 'clone' ? 'write' : 'read', operand, `git ${sub} path`);
    else out.path('read', operand, `git ${sub} argument`);
  }
};

function gitConfig(args: readonly string[], out: Findings): void {
  if (args.some((a) => ['--global', '--system', '--file', '-f', '--blob'].includes(a) || a.startsWith('--file='))) {
    out.deny('command.git-config', 'high', 'git config outside the repository (--global, --system, --file) changes other programs\' configuration');
  }
  const parsed = parseArgs(args, { values: ['--type', '--default', '--comment'] });
  const key = parsed.operands[0];
  const reading = parsed.options.some((o) => /^--(get|get-all|get-regexp|list|get-urlmatch|show-origin|show-scope)$/.test(o.name) || o.name === '-l');
  if (!reading && key !== undefined && parsed.operands.length > 1 && GIT_EXEC_CONFIG.test(key)) {
    out.deny('command.exec-option', 'high', `git config ${key} can make git run a command`);
  }
}

const DOCKER_READ = new Set(['ps', 'images', 'logs', 'inspect', 'version', 'info', 'stats', 'top', 'port', 'diff', 'history', 'events', 'search', 'help']);
const DOCKER_CHECKED = new Set(['run', 'create', 'build', 'pull', 'exec']);
const DOCKER_OBJECT_READ = new Set(['ls', 'list', 'inspect', 'logs', 'ps', 'top', 'history', 'config', 'images', 'version']);
const HOST_NAMESPACE = /^--(pid|network|net|ipc|uts|userns|cgroupns)$/;

const docker: ToolRule = ({ args, relaxed }, out) => {
  const globals = parseArgs(args, { values: ['-H', '--host', '--context', '-c', '--config', '-l', '--log-level'], stopAtOperand: true });
  if (globals.options.some((o) => ['-H', '--host', '--context', '-c', '--config'].includes(o.name))) {
    out.deny('command.docker-host', 'high', 'docker --host/--context/--config points docker at another daemon or configuration');
  }
  const rest = args.slice(globals.firstOperandIndex);
  let sub = rest[0];
  let subArgs = rest.slice(1);
  if (sub === 'container' || sub === 'image' || sub === 'compose' || sub === 'network' || sub === 'volume' || sub === 'system' || sub === 'buildx') {
    const object = sub;
    sub = subArgs[0];
    subArgs = subArgs.slice(1);
    if (sub !== undefined && object === 'container' && DOCKER_CHECKED.has(sub)) {
      // `docker container run` is `docker run`
    } else {
      if (sub === undefined || DOCKER_OBJECT_READ.has(sub)) return;
      if (!relaxed.has('command.docker-modify')) out.deny('command.docker-modify', 'medium', `docker ${object} ${sub} changes containers, images or the daemon; this profile allows docker read commands, run, build and exec`);
      return;
    }
  }
  if (sub === undefined || DOCKER_READ.has(sub)) return;
  if (!DOCKER_CHECKED.has(sub)) {
    if (!relaxed.has('command.docker-modify')) out.deny('command.docker-modify', 'medium', `docker ${sub} changes containers, images or the daemon; this profile allows docker read commands, run, build and exec`);
    return;
  }
  if (sub === 'run' || sub === 'create' || sub === 'exec') dockerRunFlags(subArgs, out);
};

function dockerRunFlags(args: readonly string[], out: Findings): void {
  const parsed = parseArgs(args, {
    values: ['-v', '--volume', '--mount', '--pid', '--network', '--net', '--ipc', '--uts', '--userns', '--cgroupns', '--cap-add', '--security-opt', '--device', '-e', '--env', '--name', '-p', '--publish', '-w', '--workdir', '-u', '--user', '--entrypoint', '--env-file', '-l', '--label', '--memory', '-m', '--cpus', '--restart', '--hostname', '-h', '--add-host', '--volumes-from', '--device-cgroup-rule', '--tmpfs', '--platform', '--pull', '--log-driver', '--log-opt', '--ulimit', '--group-add', '--runtime'],
    stopAtOperand: true,
  });
  for (const option of parsed.options) {
    const value = option.value ?? '';
    if (option.name === '--privileged') out.deny('command.docker-privileged', 'critical', 'docker --privileged gives the container root on the host');
    else if (HOST_NAMESPACE.test(option.name) && value === 'host') out.deny('command.docker-privileged', 'critical', `docker ${option.name}=host shares the host's namespace`);
    else if (option.name === '--cap-add') out.deny('command.docker-privileged', 'high', `docker --cap-add ${value} adds kernel capabilities`);
    else if (option.name === '--security-opt' && /unconfined|no-new-privileges[:=]false|label[:=]disable/i.test(value)) out.deny('command.docker-privileged', 'critical', `docker --security-opt ${value} disables confinement`);
    else if (option.name === '--device' || option.name === '--device-cgroup-rule') out.deny('command.docker-privileged', 'high', `docker ${option.name} gives the container host devices`);
    else if (option.name === '--runtime') out.deny('command.docker-privileged', 'high', 'docker --runtime changes the container runtime');
    else if (option.name === '-v' || option.name === '--volume') dockerVolume(value.split(':')[0]!, out);
    else if (option.name === '--mount') {
      const source = /(?:^|,)(?:source|src)=([^,]+)/.exec(value)?.[1];
      if (source !== undefined && /(?:^|,)type=bind/.test(value)) dockerVolume(source, out);
    } else if (option.name === '--env-file') out.path('read', value, 'docker --env-file');
  }
}

function dockerVolume(source: string, out: Findings): void {
  if (!source.includes('/') && !source.startsWith('.') && !source.startsWith('~')) return; // a named volume
  if (/docker\.sock|containerd\.sock|podman\.sock/.test(source)) {
    out.deny('command.docker-privileged', 'critical', `mounting ${source} gives the container control of the host's container engine`);
    return;
  }
  out.path('write', source, 'docker host mount');
}

const KUBECTL_READ = new Set(['get', 'describe', 'logs', 'top', 'explain', 'api-resources', 'api-versions', 'version', 'cluster-info', 'diff', 'events', 'wait', 'help', 'completion']);
const KUBECTL_READ_PAIRS = new Set(['config view', 'config current-context', 'config get-contexts', 'config get-clusters', 'config get-users', 'auth can-i', 'auth whoami', 'rollout status', 'rollout history']);
const HELM_READ = new Set(['list', 'ls', 'status', 'get', 'history', 'show', 'search', 'template', 'version', 'env', 'lint', 'help', 'verify', 'dependency']);

const kubectl: ToolRule = ({ args, relaxed }, out) => {
  const parsed = parseArgs(args, { values: ['-n', '--namespace', '--context', '--cluster', '--user', '-o', '--output', '-l', '--selector', '--kubeconfig', '--server', '-s', '--token', '-c', '--container', '--since', '--tail', '-f', '--filename'] });
  if (parsed.options.some((o) => ['--kubeconfig', '--server', '-s', '--token'].includes(o.name))) {
    out.deny('command.kubectl-credentials', 'high', 'kubectl --kubeconfig/--server/--token use credentials other than the configured ones');
  }
  const [sub, second] = parsed.operands;
  if ((sub === 'get' || sub === 'describe') && parsed.operands.slice(1).some((o) => /^(secrets?|secret\/.*|secrets\/.*)$/i.test(o) || /(^|,)secrets?(,|$)/i.test(o))) {
    out.deny('command.kubectl-secrets', 'high', `kubectl ${sub} secrets prints credentials; read them through a tool that redacts`);
    return;
  }
  if (sub === undefined || KUBECTL_READ.has(sub) || KUBECTL_READ_PAIRS.has(`${sub} ${second}`)) return;
  if (!relaxed.has('command.kubectl-modify')) out.deny('command.kubectl-modify', 'medium', `kubectl ${sub} changes the cluster or reaches into it; this profile allows kubectl read commands`);
};

const helm: ToolRule = ({ args, relaxed }, out) => {
  const post = args.find((a) => a === '--post-renderer' || a.startsWith('--post-renderer='));
  if (post !== undefined) out.deny('command.exec-option', 'high', 'helm --post-renderer runs a program on the rendered manifests');
  const sub = parseArgs(args, { values: ['-n', '--namespace', '--kube-context', '-o', '--output'] }).operands[0];
  if (sub === undefined || HELM_READ.has(sub)) return;
  if (!relaxed.has('command.kubectl-modify')) out.deny('command.kubectl-modify', 'medium', `helm ${sub} changes the cluster; this profile allows helm read commands`);
};

const SYSTEMCTL_READ = new Set(['status', 'show', 'cat', 'list-units', 'list-unit-files', 'list-timers', 'list-sockets', 'list-dependencies', 'list-jobs', 'is-active', 'is-enabled', 'is-failed', 'is-system-running', 'help', 'get-default', 'show-environment']);

const systemctl: ToolRule = ({ args }, out) => {
  const sub = parseArgs(args, { values: ['-t', '--type', '--state', '-p', '--property', '-H', '--host', '-M', '--machine', '-n', '--lines', '-o', '--output'] }).operands[0];
  if (sub === undefined || SYSTEMCTL_READ.has(sub)) return;
  out.deny('command.system-modification', 'high', `systemctl ${sub} changes system services or the machine's state`);
};

const journalctl: ToolRule = ({ args }, out) => {
  if (args.some((a) => /^--(vacuum|rotate|flush|relinquish|setup-keys|update-catalog)/.test(a))) out.deny('command.system-modification', 'medium', 'journalctl maintenance options change the system journal');
};

const PACKAGE_READ = /^(list|search|show|policy|info|depends|rdepends|madison|-l|-L|-s|-S|-q|-qa|-qi|-ql|--list|--status|--search|query|outdated|help|--version)$/;

const packages: ToolRule = ({ args, layer, relaxed }, out) => {
  const sub = args.find((a) => !a.startsWith('-') || /^-(l|L|s|S|q\w*)$/.test(a));
  if (sub !== undefined && PACKAGE_READ.test(sub)) return;
  if (!relaxed.has('command.package-manager')) out.deny('command.package-manager', 'high', `${layer.name} ${sub ?? ''} changes system packages`.replace(/ +$/, ''));
};

const curl: ToolRule = ({ args, layer }, out) => {
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
    else if (['-x', '--proxy', '--url'].includes(option.name)) out.url(withScheme(value), `curl ${option.name}`);
  }
  if (parsed.options.some((o) => o.name === '-O' || o.name === '--remote-name')) out.path('write', '.', 'curl -O writes into the working directory');
  for (const operand of parsed.operands) out.url(withScheme(operand), layer.name);
};

const wget: ToolRule = ({ args }, out) => {
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
  for (const operand of parsed.operands) out.url(withScheme(operand), 'wget');
};

function withScheme(value: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `http://${value}`;
}

const listeners: ToolRule = ({ args, layer }, out) => {
  if (layer.name === 'socat') {
    const bad = args.find((a) => /^(exec|system)[:,]/i.test(a) || /(^|[:,])(exec|system):/i.test(a) || /listen/i.test(a));
    if (bad) out.deny('command.reverse-shell', 'critical', `socat ${JSON.stringify(bad)} runs a program on a connection or listens`);
    return;
  }
  if (layer.name === 'openssl') {
    if (args[0] === 's_server') out.deny('command.reverse-shell', 'high', 'openssl s_server listens for connections');
    judgeOperands('openssl', args.slice(1), { args: 'read' }, false, out);
    return;
  }
  const parsed = parseArgs(args, { values: ['-p', '-s', '-w', '-i', '-q', '-x', '-X', '--source', '--source-port', '-o', '--output', '--proxy', '--proxy-type'] });
  const bad = parsed.options.find((o) => ['-e', '-c', '-l', '--exec', '--sh-exec', '--lua-exec', '--listen', '-L'].includes(o.name));
  if (bad) out.deny('command.reverse-shell', 'critical', `${layer.name} ${bad.name} ${['-l', '--listen', '-L'].includes(bad.name) ? 'listens for connections' : 'runs a program on the connection'}`);
  else out.deny('command.raw-network', 'medium', `${layer.name} opens raw network connections; use curl or the HTTP tools`);
};

const killers: ToolRule = ({ args, layer }, out) => {
  if (layer.name === 'killall5') {
    out.deny('command.kill-init', 'critical', 'killall5 signals every process');
    return;
  }
  if (layer.name === 'kill') {
    // kill [-SIGNAL | -s SIGNAL | -n NUM] [--] pid…: only the first word can be the signal.
    let i = 0;
    if (args[i] === '-s' || args[i] === '-n' || args[i] === '--signal') i += 2;
    else if (args[i] !== undefined && args[i] !== '--' && args[i]!.startsWith('-')) i += 1;
    if (args[i] === '--') i += 1;
    if (args.slice(i).some((target) => target === '1' || target === '-1')) {
      out.deny('command.kill-init', 'critical', 'kill targets PID 1 or every process (-1)');
    }
    return;
  }
  if (args.some((a) => /^(init|systemd|-1)$/.test(a))) out.deny('command.kill-init', 'critical', `${layer.name} targets init`);
};

const CHMOD_OPTIONS = /^(-[Rvcf]+|--(recursive|verbose|changes|silent|quiet|preserve-root|no-preserve-root|reference=.*))$/;

const chmodLike: ToolRule = ({ args, layer }, out) => {
  if (layer.name === 'chmod') {
    const reference = args.find((a) => a.startsWith('--reference='));
    if (reference !== undefined) {
      // The mode is copied from another file, setuid bits included: that file is read.
      out.path('read', reference.slice('--reference='.length), 'chmod --reference');
      for (const operand of args.filter((a) => !CHMOD_OPTIONS.test(a))) out.path('write', operand, 'chmod argument');
      return;
    }
    const mode = args.find((a) => !CHMOD_OPTIONS.test(a));
    if (mode !== undefined && chmodSetsSpecialBits(mode)) {
      out.deny('command.setuid', 'high', `chmod ${mode} sets the setuid or setgid bit`);
    }
    const operands = mode === undefined ? [] : args.slice(args.indexOf(mode) + 1).filter((a) => !CHMOD_OPTIONS.test(a));
    for (const operand of operands) out.path('write', operand, 'chmod argument');
    return;
  }
  judgeOperands(layer.name, args, operandSpec(layer.name), layer.unseenOperands, out);
};

export function chmodSetsSpecialBits(mode: string): boolean {
  if (/^[0-7]+$/.test(mode)) return mode.length >= 4 && (Number(mode[mode.length - 4]) & 6) !== 0;
  return mode.split(',').some((clause) => /[+=][rwxXst]*s/.test(clause));
}

const dd: ToolRule = ({ args }, out) => {
  for (const arg of args) {
    if (arg.startsWith('if=')) out.path('read', arg.slice(3), 'dd if=');
    if (arg.startsWith('of=')) out.path('write', arg.slice(3), 'dd of=');
  }
};

const rm: ToolRule = ({ args, layer }, out) => {
  if (args.includes('--no-preserve-root')) out.deny('command.destructive-delete', 'critical', 'rm --no-preserve-root');
  judgeOperands('rm', args, operandSpec('rm'), layer.unseenOperands, out);
};

const make: ToolRule = ({ args, layer }, out) => {
  const bad = args.find((a) => a === '--eval' || a.startsWith('--eval=') || a === '-E' || /^\.?SHELL(FLAGS)?=/.test(a) || /^MAKESHELL=/.test(a));
  if (bad) out.deny('command.exec-option', 'high', `make ${bad} changes the commands make runs`);
  judgeOperands('make', args.filter((a) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a)), operandSpec('make'), layer.unseenOperands, out);
};

const npm: ToolRule = ({ args, layer }, out) => {
  const bad = args.find((a) => ['-c', '--call', '--script-shell', '-g', '--global', '--location=global', '--prefix'].includes(a) || a.startsWith('--script-shell=') || a.startsWith('--call='));
  if (bad) out.deny(bad.startsWith('-c') || bad.startsWith('--call') ? 'command.inline-code' : 'command.exec-option', 'high', `${layer.name} ${bad} ${bad.startsWith('-g') || bad.includes('global') || bad === '--prefix' ? 'installs outside the workspace' : 'runs a command string through a shell'}`);
  if (args[0] === 'config' && ['set', 'edit'].includes(args[1] ?? '')) out.deny('command.exec-option', 'high', 'npm config set changes how npm runs scripts');
};

const pip: ToolRule = ({ args }, out) => {
  for (const [i, arg] of args.entries()) {
    if (['-i', '--index-url', '--extra-index-url', '-f', '--find-links'].includes(arg) && args[i + 1] !== undefined && /^https?:/i.test(args[i + 1]!)) out.url(args[i + 1]!, `pip ${arg}`);
    if (['--user', '--root', '--prefix', '--target', '-t'].includes(arg)) out.deny('command.exec-option', 'medium', `pip ${arg} installs outside the workspace`);
  }
};

const ip: ToolRule = ({ args }, out) => {
  const verb = args.find((a) => /^(add|del|delete|set|change|replace|flush|append|prepend|exec|attach|detach|up|down)$/.test(a));
  if (verb !== undefined) out.deny('command.network-change', 'high', `ip ${verb} changes the network configuration`);
};

const remoteExecOptions: ToolRule = ({ args, layer }, out) => {
  const bad = args.find((a, i) => /^(-o)?(ProxyCommand|LocalCommand|PermitLocalCommand|KnownHostsCommand|Match)\b/i.test(a.replace(/^-o/, '')) && (a.startsWith('-o') || args[i - 1] === '-o'));
  if (bad !== undefined) out.deny('command.exec-option', 'critical', `${layer.name} option ${JSON.stringify(bad)} runs a local command`);
  if (layer.name === 'rsync' && args.some((a) => a === '-e' || a.startsWith('--rsh') || a.startsWith('--rsync-path') || /^-[a-zA-Z]*e/.test(a))) {
    out.deny('command.exec-option', 'critical', 'rsync -e/--rsh/--rsync-path runs a command');
  }
  if (layer.name === 'scp' && args.some((a) => a === '-S')) out.deny('command.exec-option', 'critical', 'scp -S runs a program');
};

const date: ToolRule = ({ args }, out) => {
  const parsed = parseArgs(args, { values: ['-d', '--date', '-f', '--file', '-r', '--reference', '-s', '--set'], attached: ['-I', '--iso-8601', '--rfc-3339'] });
  if (parsed.options.some((o) => o.name === '-s' || o.name === '--set')) out.deny('command.system-modification', 'high', 'date --set changes the system clock');
};

const hostname: ToolRule = ({ args }, out) => {
  const parsed = parseArgs(args, { values: ['-F', '--file'] });
  if (parsed.operands.length > 0 || parsed.options.some((o) => o.name === '-F' || o.name === '--file')) {
    out.deny('command.system-modification', 'high', 'hostname with a name sets the host name');
  }
};

const SCRIPT_VALUES = ['-c', '--command', '-E', '--echo', '-o', '--output-limit', '-T', '--log-timing', '-I', '--log-in', '-O', '--log-out', '-B', '--log-io', '-m', '--logging-format'];

/**
 * `script -c`, and an editor's `-c`/`--cmd`/`-S`/`+cmd`, take commands to run; the
 * editors' commands include `:!` shell escapes. (less and more keep their meaning of
 * `-c`, "clear the screen"; their `+cmd` is refused in command-rules.ts.)
 */
const commandStringOptions: ToolRule = ({ args, layer }, out) => {
  if (layer.name !== 'less' && layer.name !== 'more') {
    const parsed = parseArgs(args, { values: layer.name === 'script' ? SCRIPT_VALUES : [] });
    const option = parsed.options.find((o) => ['-c', '--command', '--cmd', '-S'].includes(o.name))?.name;
    const plus = layer.name === 'script' ? undefined : parsed.operands.find((a) => a.startsWith('+'));
    const bad = option ?? plus;
    if (bad !== undefined) {
      out.deny('command.inline-code', 'high', `${layer.name} ${bad} runs a command string`);
      return;
    }
  }
  judgeOperands(layer.name, args, operandSpec(layer.name), layer.unseenOperands, out);
};

export const TOOL_RULES: Record<string, ToolRule> = {
  date,
  hostname,
  find,
  tar,
  sed,
  git,
  docker,
  kubectl,
  helm,
  systemctl,
  journalctl,
  curl,
  wget,
  chmod: chmodLike,
  chown: chmodLike,
  chgrp: chmodLike,
  dd,
  rm,
  make,
  npm,
  npx: npm,
  pip,
  ip,
  '@packages': packages,
  '@listeners': listeners,
  '@killers': killers,
  '@remote': remoteExecOptions,
  '@pagers': commandStringOptions,
  script: commandStringOptions,
};

