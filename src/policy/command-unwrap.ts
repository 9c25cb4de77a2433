import { canonicalCommandName } from './command-catalogue.js';
import { parseArgs, type OptionSpec, type ParsedArgs } from './command-options.js';
import { deny, type Decision } from './decision.js';

/**
 * Wrappers run another command: `env`, `nohup`, `timeout`, `nice`, `time`,
 * `stdbuf`, `setsid`, `watch -x`, `xargs`, `busybox`, `ionice`, `taskset`,
 * `chrt`, `flock`, `systemd-inhibit`, `xvfb-run`, `valgrind`, `faketime` and the
 * like. Every layer is judged, and the wrapped command is judged as if it had been
 * written alone. A program that runs its arguments as a command but is not listed
 * here hides that command from every rule, so anything that does belongs here.
 */

export interface Layer {
  /** Canonical name (see canonicalCommandName). */
  name: string;
  /** The command's own argv, argv[0] as it will be looked up. */
  argv: string[];
  /** Environment set by `env NAME=value` in front of this layer. */
  env: Record<string, string>;
  /** True when the command receives extra arguments at run time (xargs). */
  unseenOperands: boolean;
  /** The wrapper this layer came from, if any. */
  via?: string;
  /**
   * For a wrapper: how many words after argv[0] are its own (options, a duration, a
   * lock file); the rest is the wrapped command, judged as a layer of its own.
   */
  ownArgs?: number;
}

interface WrapperSpec {
  options: OptionSpec;
  /** Operands of the wrapper itself before the wrapped command (timeout's duration). */
  leading?: number;
  /** The leading operands come before the options (`setarch ARCH -R cmd`). */
  leadingFirst?: boolean;
  /** Inspect the wrapper's options; return a refusal to stop, or nothing. */
  check?(parsed: ParsedArgs): Decision | undefined;
  /** env: leading NAME=value operands are assignments. */
  assignments?: boolean;
  /** The command gets more arguments at run time. */
  appends?: boolean;
  /** Name of the wrapped command when nothing is given. */
  defaultCommand?: string;
  /** Options after which the wrapper runs no command (`systemd-inhibit --list`, `prlimit --pid`). */
  noCommand?: readonly string[];
  /** Options that make the wrapper start an interactive shell (`torsocks --shell`): judged as `sh`. */
  shellOptions?: readonly string[];
}

const refuseOption =
  (options: readonly string[], rule: string, severity: Decision['severity'], reason: (name: string) => string) =>
  (p: ParsedArgs): Decision | undefined => {
    const hit = p.options.find((o) => options.includes(o.name));
    return hit ? deny(rule, severity, reason(hit.name)) : undefined;
  };

const PRLIMIT_RESOURCES = ['--core', '--data', '--fsize', '--memlock', '--rss', '--nofile', '--stack', '--cpu', '--nproc', '--as', '--locks', '--sigpending', '--msgqueue', '--nice', '--rtprio', '--rttime'];

const WRAPPERS: Record<string, WrapperSpec> = {
  env: {
    options: {
      values: ['-u', '--unset', '-C', '--chdir', '-S', '--split-string', '-P'],
      attached: ['--default-signal', '--ignore-signal', '--block-signal'],
      stopAtOperand: true,
    },
    assignments: true,
    check: (p) => {
      if (p.options.some((o) => ['-S', '--split-string'].includes(o.name))) {
        return deny('command.inline-code', 'high', 'env -S splits a string into a command line like a shell');
      }
      if (p.options.some((o) => ['-C', '--chdir', '-P'].includes(o.name))) {
        return deny('command.exec-option', 'medium', 'env -C / -P change where or how the command is found; run it directly');
      }
      return undefined;
    },
  },
  nohup: { options: { stopAtOperand: true } },
  timeout: { options: { values: ['-s', '--signal', '-k', '--kill-after'], stopAtOperand: false }, leading: 1 },
  nice: { options: { values: ['-n', '--adjustment'], stopAtOperand: true } },
  time: { options: { values: ['-f', '--format', '-o', '--output'], stopAtOperand: true } },
  stdbuf: { options: { values: ['-i', '-o', '-e', '--input', '--output', '--error'], stopAtOperand: true } },
  setsid: { options: { stopAtOperand: true } },
  ionice: { options: { values: ['-c', '-n', '-p', '-P', '-u', '--class', '--classdata'], stopAtOperand: true } },
  taskset: { options: { values: ['-p'], stopAtOperand: true }, leading: 1 },
  chrt: { options: { values: ['-T', '-P', '-D'], stopAtOperand: true }, leading: 1 },
  flock: {
    options: { values: ['-w', '--timeout', '-E', '--conflict-exit-code'], stopAtOperand: true },
    leading: 1,
    check: (p) =>
      p.options.some((o) => ['-c', '--command'].includes(o.name))
        ? deny('command.inline-code', 'high', 'flock -c runs its command string through a shell')
        : undefined,
  },
  watch: {
    options: { values: ['-n', '--interval', '-q', '--equexit'], attached: ['-d', '--differences'], stopAtOperand: true },
    check: (p) =>
      p.options.some((o) => ['-x', '--exec'].includes(o.name))
        ? undefined
        : deny('command.inline-code', 'high', 'watch runs its arguments through sh -c; use watch -x to run a command directly'),
  },
  xargs: {
    options: {
      values: ['-I', '-n', '-L', '-P', '-d', '-E', '-s', '-a', '--arg-file', '--max-args', '--max-procs', '--delimiter', '--max-chars', '--process-slot-var'],
      // GNU xargs: -i[R], -e[EOF], -l[N] and their long forms take only an attached value.
      attached: ['-i', '-e', '-l', '--replace', '--eof', '--max-lines'],
      stopAtOperand: true,
    },
    appends: true,
    defaultCommand: 'echo',
  },
  busybox: { options: { stopAtOperand: true } },
  toybox: { options: { stopAtOperand: true } },
  unbuffer: { options: { stopAtOperand: true } },
  'systemd-inhibit': { options: { values: ['--what', '--who', '--why', '--mode'], stopAtOperand: true }, noCommand: ['--list'] },
  'dbus-run-session': {
    options: { values: ['--config-file', '--dbus-daemon'], stopAtOperand: true },
    // The bus configuration names programs to start on demand; --dbus-daemon is one.
    check: refuseOption(['--config-file', '--dbus-daemon'], 'command.exec-option', 'high', (o) => `dbus-run-session ${o} makes the bus run programs of its choosing`),
  },
  'dbus-launch': {
    options: { values: ['--config-file', '--autolaunch'], stopAtOperand: true },
    check: refuseOption(['--config-file'], 'command.exec-option', 'high', (o) => `dbus-launch ${o} makes the bus run programs of its choosing`),
  },
  'xvfb-run': { options: { values: ['-e', '--error-file', '-f', '--auth-file', '-n', '--server-num', '-p', '--xauth-protocol', '-s', '--server-args', '-w', '--wait'], stopAtOperand: true } },
  catchsegv: { options: { stopAtOperand: true } },
  faketime: {
    options: { values: ['--date-prog'], stopAtOperand: true },
    leading: 1,
    check: refuseOption(['--date-prog'], 'command.exec-option', 'high', () => 'faketime --date-prog runs another program to parse the date'),
  },
  torsocks: { options: { values: ['-u', '--user', '-p', '--pass', '-a', '--address', '-P', '--port'], stopAtOperand: true }, shellOptions: ['--shell'] },
  proxychains: { options: { values: ['-f'], stopAtOperand: true } },
  proxychains4: { options: { values: ['-f'], stopAtOperand: true } },
  valgrind: {
    // valgrind's own options are all --name=value; the first word without a dash is the program.
    options: { stopAtOperand: true },
    noCommand: ['--version', '--help', '-h'],
    check: (p) =>
      refuseOption(['--db-command'], 'command.exec-option', 'high', () => 'valgrind --db-command runs a debugger command line')(p) ??
      refuseOption(['--log-socket', '--xml-socket'], 'command.network-override', 'high', (o) => `valgrind ${o} sends its output to a network address the URL rules never see`)(p),
  },
  eatmydata: { options: { stopAtOperand: true } },
  fakeroot: {
    options: { values: ['-l', '--lib', '--faked', '-s', '-i', '-b'], stopAtOperand: true },
    defaultCommand: 'sh',
    noCommand: ['-v', '--version', '-h', '--help'],
    check: refuseOption(['-l', '--lib', '--faked'], 'command.exec-option', 'high', (o) => `fakeroot ${o} loads a library or runs a daemon of the caller's choosing`),
  },
  numactl: {
    options: { values: ['-C', '--physcpubind', '-N', '--cpunodebind', '-m', '--membind', '-i', '--interleave', '-p', '--preferred', '-P', '--preferred-many', '-w', '--weighted-interleave'], stopAtOperand: true },
    noCommand: ['-s', '--show', '-H', '--hardware'],
  },
  cpulimit: {
    options: { values: ['-l', '--limit', '-p', '--pid', '-e', '--exe', '-P', '--path', '-c', '--cpu'], stopAtOperand: true },
    noCommand: ['-p', '--pid', '-e', '--exe', '-P', '--path'],
  },
  prlimit: {
    options: { values: ['-p', '--pid', '-o', '--output'], attached: [...PRLIMIT_RESOURCES, '-c', '-d', '-e', '-f', '-i', '-l', '-m', '-n', '-q', '-r', '-s', '-t', '-u', '-v', '-x', '-y'], stopAtOperand: true },
    noCommand: ['-p', '--pid'],
  },
  setarch: { options: { stopAtOperand: true }, leading: 1, leadingFirst: true, defaultCommand: 'sh', noCommand: ['--list'] },
  linux32: { options: { stopAtOperand: true }, defaultCommand: 'sh' },
  linux64: { options: { stopAtOperand: true }, defaultCommand: 'sh' },
  ifne: { options: { stopAtOperand: true } },
  chronic: { options: { stopAtOperand: true } },
  lckdo: { options: { values: ['-W'], stopAtOperand: true }, leading: 1 },
  'run-one': { options: { stopAtOperand: true } },
  'ssh-agent': {
    options: { values: ['-a', '-E', '-O', '-P', '-t'], stopAtOperand: true },
    // Without a command ssh-agent forks into the background and stays there.
    check: (p) =>
      p.operands.length === 0 && !p.options.some((o) => ['-D', '-d', '-k'].includes(o.name))
        ? deny('command.detach', 'medium', 'ssh-agent without a command forks an agent that keeps running after the command; give it the command to run, or -D')
        : undefined,
  },
  entr: {
    options: { stopAtOperand: true },
    check: refuseOption(['-s'], 'command.inline-code', 'high', () => 'entr -s runs its command through a shell'),
  },
};

export function isWrapper(name: string): boolean {
  return name in WRAPPERS;
}

export type Unwrapped = { ok: true; layers: Layer[] } | { ok: false; decision: Decision };

/**
 * Peels wrappers off `argv` until a command that is not one is reached. `nameOf`
 * gives the name the rules know a command word by (see canonicalCommandName).
 */
export function unwrap(argv: readonly string[], nameOf: (argv0: string) => string = canonicalCommandName): Unwrapped {
  const layers: Layer[] = [];
  let current = [...argv];
  let name = nameOf(current[0]!);
  let env: Record<string, string> = {};
  let unseenOperands = false;
  let via: string | undefined;
  for (let depth = 0; depth < 16; depth++) {
    const layer: Layer = { name, argv: current, env, unseenOperands, ...(via ? { via } : {}) };
    layers.push(layer);
    const spec = WRAPPERS[name];
    if (!spec) return { ok: true, layers };
    const skipped = spec.leadingFirst && !current[1]?.startsWith('-') ? (spec.leading ?? 0) : 0;
    const parsed = parseArgs(current.slice(1 + skipped), spec.options);
    const refusal = spec.check?.(parsed);
    if (refusal) return { ok: false, decision: refusal };
    if (parsed.options.some((o) => spec.noCommand?.includes(o.name))) return { ok: true, layers };
    let rest = current.slice(1 + skipped + parsed.firstOperandIndex);
    if (spec.leading && !spec.leadingFirst) rest = rest.slice(spec.leading);
    const innerEnv: Record<string, string> = { ...env };
    if (spec.assignments) {
      while (rest.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0]!)) {
        const assignment = rest.shift()!;
        const eq = assignment.indexOf('=');
        innerEnv[assignment.slice(0, eq)] = assignment.slice(eq + 1);
      }
      layer.env = { ...env, ...innerEnv };
    }
    layer.ownArgs = current.length - 1 - rest.length;
    if (rest.length === 0) {
      const shell = parsed.options.some((o) => spec.shellOptions?.includes(o.name)) ? 'sh' : undefined;
      const command = shell ?? spec.defaultCommand;
      if (!command) return { ok: true, layers };
      rest = [command];
    }
    via = name;
    env = innerEnv;
    unseenOperands = unseenOperands || Boolean(spec.appends);
    current = rest;
    name = nameOf(rest[0]!);
  }
  return { ok: false, decision: deny('command.unsupported-syntax', 'medium', 'too many nested wrapper commands') };
}
