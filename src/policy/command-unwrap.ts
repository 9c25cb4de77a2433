import { canonicalCommandName } from './command-catalogue.js';
import { parseArgs, type OptionSpec, type ParsedArgs } from './command-options.js';
import { deny, type Decision } from './decision.js';

/**
 * Wrappers run another command: `env`, `nohup`, `timeout`, `nice`, `time`,
 * `stdbuf`, `setsid`, `watch -x`, `xargs`, `busybox`, `ionice`, `taskset`,
 * `chrt`, `flock`. Every layer is judged, and the wrapped command is judged as if
 * it had been written alone.
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
}

interface WrapperSpec {
  options: OptionSpec;
  /** Operands of the wrapper itself before the wrapped command (timeout's duration). */
  leading?: number;
  /** Inspect the wrapper's options; return a refusal to stop, or nothing. */
  check?(parsed: ParsedArgs): Decision | undefined;
  /** env: leading NAME=value operands are assignments. */
  assignments?: boolean;
  /** The command gets more arguments at run time. */
  appends?: boolean;
  /** Name of the wrapped command when nothing is given. */
  defaultCommand?: string;
}

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
    const parsed = parseArgs(current.slice(1), spec.options);
    const refusal = spec.check?.(parsed);
    if (refusal) return { ok: false, decision: refusal };
    let rest = current.slice(1 + parsed.firstOperandIndex);
    if (spec.leading) rest = rest.slice(spec.leading);
    const innerEnv: Record<string, string> = { ...env };
    if (spec.assignments) {
      while (rest.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0]!)) {
        const assignment = rest.shift()!;
        const eq = assignment.indexOf('=');
        innerEnv[assignment.slice(0, eq)] = assignment.slice(eq + 1);
      }
      layer.env = { ...env, ...innerEnv };
    }
    if (rest.length === 0) {
      if (!spec.defaultCommand) return { ok: true, layers };
      rest = [spec.defaultCommand];
    }
    via = name;
    env = innerEnv;
    unseenOperands = unseenOperands || Boolean(spec.appends);
    current = rest;
    name = nameOf(rest[0]!);
  }
  return { ok: false, decision: deny('command.unsupported-syntax', 'medium', 'too many nested wrapper commands') };
}
