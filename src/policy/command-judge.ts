import { canonicalCommandName, commandGroup } from './command-catalogue.js';
import { Findings } from './command-findings.js';
import { locateExecutable, normaliseScript, type StageView } from './command-normalise.js';
import { hasToolRule, judgeLayer } from './command-rules.js';
import { isWrapper, unwrap, type Layer } from './command-unwrap.js';
import { allow, deny, SEVERITIES, type Decision } from './decision.js';
import { SAFE_PATH } from './host.js';
import { canonicalPath, decidePath, isInside, type PathContext } from './paths.js';
import type { Profile } from './profile-schema.js';
import type { Script } from './script.js';
import type { RawScript } from './raw-script.js';
import { parseCommandLine } from './shell-parse.js';
import { checkUrl } from './url.js';

/**
 * Judges a command (a line or an argv) as a whole: parse, normalise to the exact
 * form that will run, then every stage and every wrapped command through the
 * rules. One denied stage denies the line; all hits are kept for `explain`.
 */

export interface CommandContext extends PathContext {
  profile: Profile;
}

export interface Judgement {
  decision: Decision;
  /** Every rule that refused something, most severe first. */
  hits: Decision[];
  /** The form that runs, when the line could be normalised. */
  script?: Script;
  views?: StageView[];
}

/** Loader and search-path variables: setting them changes what code runs. */
const INJECTION_ENV = /^(LD_.*|DYLD_.*|PATH|PYTHON(PATH|HOME|STARTUP|USERBASE|EXECUTABLE|INSPECT)|NODE_(OPTIONS|PATH|REPL_EXTERNAL_MODULE)|PERL5?(LIB|OPT|DB|5DB)|PERLLIB|RUBY(LIB|OPT)|GEM_(PATH|HOME)|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|IFS|CDPATH|GLOBIGNORE|GIT_(SSH|SSH_COMMAND|EXEC_PATH|ASKPASS|EDITOR|PAGER|EXTERNAL_DIFF|PROXY_COMMAND|CONFIG.*|DIR|WORK_TREE|TEMPLATE_DIR)|SSH_ASKPASS|EDITOR|VISUAL|PAGER|MANPAGER|LESSOPEN|LESSCLOSE|BROWSER|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|GCONV_PATH|HOSTALIASES|RESOLV_HOST_CONF|LOCALDOMAIN|MAKEFLAGS|MFLAGS|MAKEFILES|NPM_CONFIG_.*|npm_config_.*|PIP_.*|LUA_(PATH|CPATH|INIT).*|TCLLIBPATH|R_PROFILE.*|HOME|TMPDIR|XDG_.*|TAR_OPTIONS|GIT_(SEQUENCE_EDITOR|COMMON_DIR|TRACE.*|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|CEILING_DIRECTORIES)|OPENSSL_(CONF|ENGINES|MODULES)|GZIP|ZSTD_.*|XZ_OPT|BZIP2|GREP_OPTIONS|LESS|MORE|SYSTEMD_.*|PROMPT_.*|TERMINFO.*|DOCKER_(HOST|CONTEXT|CONFIG|CERT_PATH|TLS_VERIFY)|KUBECONFIG|SSH_AUTH_SOCK|(HTTPS?|ALL|NO|FTP)_PROXY|(https?|all|no|ftp)_proxy|CURL_HOME|CURL_CA_BUNDLE|WGETRC|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|NODE_EXTRA_CA_CERTS|NODE_TLS_REJECT_UNAUTHORIZED|SHELL|PSQLRC|PSQL_(PAGER|EDITOR|EDITOR_LINENUMBER_ARG)|MYSQL_HOME|VALGRIND_(LIB|OPTS))$/;

export async function judgeCommandLine(line: string, ctx: CommandContext): Promise<Judgement> {
  const parsed = parseCommandLine(line);
  if (!parsed.ok) {
    const decision = deny(parsed.rule, severityOfParseRule(parsed.rule), parsed.reason);
    return { decision, hits: [decision] };
  }
  return judgeRaw(parsed.script, ctx);
}

export async function judgeArgv(argv: readonly string[], ctx: CommandContext): Promise<Judgement> {
  if (argv.length === 0 || argv[0] === '') {
    const decision = deny('command.empty', 'low', 'argv is empty');
    return { decision, hits: [decision] };
  }
  if (argv.some((a) => a.includes('\0'))) {
    const decision = deny('command.nul-byte', 'high', 'an argument contains a NUL byte');
    return { decision, hits: [decision] };
  }
  // argv words are literal: quoted, so never globbed or tilde-expanded.
  const raw: RawScript = {
    items: [{ connector: ';', pipeline: { negated: false, stages: [{ assignments: [], redirects: [], words: argv.map((text) => ({ parts: [{ text, quoted: true }] })) }] } }],
  };
  return judgeRaw(raw, ctx);
}

async function judgeRaw(raw: RawScript, ctx: CommandContext): Promise<Judgement> {
  const normalised = normaliseScript(raw, ctx);
  if (!normalised.ok) return { decision: normalised.decision, hits: [normalised.decision] };
  const hits: Decision[] = [];
  for (const view of normalised.views) hits.push(...(await judgeStage(view, ctx)));
  hits.sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity));
  const decision = hits[0] ?? allow('command.allowed', describeAllowed(normalised.views));
  return { decision, hits, script: normalised.script, views: normalised.views };
}

function describeAllowed(views: readonly StageView[]): string {
  const names = views.map((v) => v.written);
  return `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} allowed by the profile and no rule refused ${names.length === 1 ? 'it' : 'them'}`;
}

async function judgeStage(view: StageView, ctx: CommandContext): Promise<Decision[]> {
  const out = new Findings();
  const { profile } = ctx;
  envRule(view.stage.env, out);

  const resolve = (argv0: string): string | null => (argv0 === view.written ? view.executable : resolveInner(argv0, ctx));
  const layered = unwrap([view.written, ...view.stage.argv.slice(1)], (argv0) => ruleName(argv0, resolve(argv0), ctx));
  if (!layered.ok) return [layered.decision];
  const relaxed = new Set(profile.commands.relax);
  layered.layers.forEach((layer, index) => {
    const executable = index === 0 ? view.executable : resolveInner(layer.argv[0]!, ctx);
    envRule(layer.env, out);
    judgeLayer(
      {
        layer,
        stdinFromPipe: view.position > 0,
        stdinText: view.stdinText,
        ...stdinContent(view),
        stdinFile: view.stdinFile,
        interactiveAllowed: profile.commands.interactiveInterpreters === 'allow',
        relaxed,
      },
      out,
    );
    // After the specific rules, so among equally severe hits theirs is the one reported.
    // xargs appends to the innermost command only; a wrapper left without a command (`xargs env`) takes its command from the input.
    if (layer.unseenOperands && index === layered.layers.length - 1 && runsWhatItIsGiven(layer.name)) {
      out.deny('command.unseen-operands', 'high', `xargs would hand ${layer.name} arguments that are not in the command line, and ${layer.name} can run commands from its arguments`);
    }
    namesRule(layer, executable, ctx, out);
  });

  for (const redirect of view.stage.redirects) {
    if (redirect.kind === 'file') out.path(redirect.mode === 'read' ? 'read' : 'write', redirect.path, 'redirection');
  }
  const hits = [...out.hits];
  for (const use of out.paths) {
    // Where a file is opened, /dev/tcp and /dev/udp are the shell's network connections;
    // as text in other arguments (`grep -rn /dev/tcp .`) they are harmless.
    const canonical = canonicalPath(use.path, ctx);
    if (canonical.ok && /^\/dev\/(tcp|udp)\//.test(canonical.path)) {
      hits.push(deny('command.reverse-shell', 'critical', `${use.why}: ${canonical.path} opens a network connection`));
    }
    const decision = decidePath(use.op, use.path, ctx);
    if (!decision.allowed) hits.push({ ...decision, reason: `${use.why}: ${decision.reason}` });
  }
  for (const use of out.urls) {
    const { decision } = await checkUrl(use.url, profile.network, (host) => ctx.host.resolve(host));
    if (!decision.allowed) hits.push({ ...decision, reason: `${use.why}: ${decision.reason}` });
  }
  return hits;
}

/** The text a here-document or here-string feeds the stage, for rules that read commands from it. */
function stdinContent(view: StageView): { stdinContent?: string } {
  const text = view.stage.redirects.findLast((r) => r.kind === 'text' && r.fd === 0);
  return text?.kind === 'text' ? { stdinContent: text.text } : {};
}

/** Commands whose arguments can make them run other code: never fed unseen arguments. */
function runsWhatItIsGiven(name: string): boolean {
  const group = commandGroup(name);
  return isWrapper(name) || group === 'shells' || group === 'interpreters' || group === 'awk' || hasToolRule(name, group);
}

function envRule(env: Record<string, string>, out: Findings): void {
  for (const name of Object.keys(env)) {
    if (INJECTION_ENV.test(name)) out.deny('command.env-injection', 'critical', `setting ${name} changes which code or configuration programs load`);
  }
}

/** Name-based rules need every spelling: as written, and what the file really is. */
function namesRule(layer: Layer, executable: string | null, ctx: CommandContext, out: Findings): void {
  const { profile } = ctx;
  const realName = executable ? canonicalCommandName(executable) : undefined;
  if (realName !== undefined && realName !== layer.name && !isWrapper(realName) && commandGroup(realName) === 'privilege') {
    out.deny('command.privilege-escalation', 'critical', `${layer.argv[0]} is ${executable} (${realName}), which changes user or privileges`);
  }
  if (profile.commands.deny.includes(layer.name) || (realName && profile.commands.deny.includes(realName))) {
    out.deny('command.profile-deny', 'high', `${layer.name} is refused by the ${profile.name} profile`);
  }
  if (executable === null) {
    out.deny('command.not-found', 'low', `${layer.argv[0]} was not found on the search path (${SAFE_PATH.join(':')}) or in the workspace`);
    return;
  }
  const mode = ctx.host.mode(executable);
  if (mode !== null && (mode & 0o6000) !== 0) {
    out.deny('command.setuid-binary', 'high', `${executable} is a setuid/setgid program`);
  }
  const inWorkspace = ctx.roots.some((root) => isInside(executable, root));
  if (inWorkspace) {
    if (profile.commands.workspaceExecutables !== 'allow') out.deny('command.not-allowlisted', 'medium', `${layer.argv[0]} is a program inside the workspace; the ${profile.name} profile runs only listed system commands`);
    return;
  }
  if (profile.commands.mode === 'allowlist' && !profile.commands.allow.includes(layer.name)) {
    out.deny('command.not-allowlisted', 'medium', `${layer.name} is not on the ${profile.name} profile's list of allowed commands`);
  }
}

/**
 * The name the rules judge a command word by. The executor runs the resolved file
 * itself, so a path that is not how the search path knows that file (`./ls` linked
 * to /usr/bin/bash, a link in /tmp) is judged as the program it really is; a name
 * the search path gives the same file (`sh` for dash, `/usr/bin/python3`) stands.
 * Programs inside the workspace keep their own name (workspaceExecutables decides).
 */
function ruleName(argv0: string, executable: string | null, ctx: CommandContext): string {
  const written = canonicalCommandName(argv0);
  if (executable === null || !argv0.includes('/')) return written;
  if (ctx.roots.some((root) => isInside(executable, root))) return written;
  const base = argv0.split('/').pop() ?? '';
  const onSearchPath = base === '' ? null : ctx.host.which(base);
  if (onSearchPath === executable) return written;
  return canonicalCommandName(executable);
}

function resolveInner(name: string, ctx: CommandContext): string | null {
  const located = locateExecutable(name, ctx);
  return located.ok ? located.path : null;
}

function severityOfParseRule(rule: string): Decision['severity'] {
  if (rule === 'command.substitution' || rule === 'command.nul-byte') return 'high';
  if (rule === 'command.parse-error' || rule === 'command.empty') return 'low';
  return 'medium';
}
