/**
 * Guarded execution of a policy-approved Script (S3 executor half, S5). Decisions:
 * - No shell, ever: each stage is spawned from its absolute argv; lists, pipes,
 *   `!` and redirects are implemented here with shell semantics.
 * - Every stage leads its own process group (`detached`); timeout and abort send
 *   SIGTERM to each group, SIGKILL after a grace; when a stage exits, whatever it
 *   left in its group is killed too, so nothing outlives the script.
 * - All plumbing is OS-level socket pairs (socket-pair.ts): pipes between stages,
 *   one stdout and one stderr for the whole script (so `2>&1` keeps order) and a
 *   single stdin shared by the list, as a terminal would be. JS touches only the
 *   bytes it must: captured output, options.stdin and here-strings.
 * - Output past maxOutputBytes is drained and discarded with a marker, not killed
 *   (output-capture.ts says why). RLIMIT_FSIZE comes from `prlimit --fsize`.
 * - Sandboxed, each stage is its own bwrap; a signal death then shows as 128+n.
 */
import type { ExecLimits } from '../policy/index.js';
import type { Script } from '../policy/index.js';
import { commandEnvironment, type CommandEnvironment } from './command-environment.js';
import { createOutputCapture } from './output-capture.js';
import type { SandboxPlan } from './sandbox.js';
import { startScript } from './script-process.js';
import { validateRun } from './script-validation.js';

export interface RunOptions {
  /** Absolute, inside one of `roots`. */
  cwd: string;
  /** Writable workspace roots. */
  roots: readonly string[];
  limits: ExecLimits;
  /** From `sandboxPlan`; null runs unsandboxed. */
  sandbox: SandboxPlan | null;
  /** The base environment; by default a cleared one (see child-env.ts). */
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  signal?: AbortSignal;
  /** Told about limits that cannot be enforced here (no prlimit). */
  warn?: (message: string) => void;
}

export interface RunResult {
  /** Of the last pipeline that ran; null when its last stage was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  /** Stopped through `options.signal`. */
  aborted: boolean;
  durationMs: number;
}

export async function runScript(script: Script, options: RunOptions): Promise<RunResult> {
  validateRun(script, options.cwd, options.roots, options.sandbox);
  const started = performance.now();
  const environment = await commandEnvironment(options.env, options.sandbox);
  try {
    return await supervise(script, options, environment, started);
  } finally {
    await environment.release();
  }
}

/** Starts the script and holds it to the wall clock and the caller's abort signal. */
async function supervise(script: Script, options: RunOptions, environment: CommandEnvironment, started: number): Promise<RunResult> {
  const output = createOutputCapture(options.limits.maxOutputBytes);
  const running = await startScript(script, {
    cwd: options.cwd,
    env: environment.env,
    sandbox: options.sandbox,
    sandboxTmp: environment.sandboxTmp,
    maxFileBytes: options.limits.maxFileBytes,
    stdin: options.stdin === undefined ? 'none' : 'pipe',
    mergeOutput: false,
    onOutput: output.push,
    ...(options.warn === undefined ? {} : { warn: options.warn }),
  });
  if (options.stdin !== undefined) running.writeInput(options.stdin);
  running.endInput();

  let timedOut = false;
  let aborted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    running.terminate();
  }, options.limits.timeoutMs);
  const onAbort = () => {
    aborted = true;
    running.terminate();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const status = await running.done;
    return {
      exitCode: status.code,
      signal: status.signal,
      ...output.result(),
      timedOut,
      aborted,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
