import type { Script } from '../policy/index.js';
import { shellStatus, type ExitStatus } from './exit-status.js';
import { runPipeline, type ScriptEndpoints } from './pipeline-run.js';
import { createProcessGroups, type ProcessGroups } from './process-groups.js';
import type { SandboxPlan } from './sandbox.js';
import { openSocketPairSource, type SocketPair } from './socket-pair.js';
import { fileSizeLimit } from './stage-command.js';
import type { StageContext } from './stage-launch.js';

export type OutputStream = 'stdout' | 'stderr';

export interface StartScriptOptions {
  cwd: string;
  /** The complete environment of every stage (stage assignments are added on top). */
  env: Record<string, string>;
  sandbox: SandboxPlan | null;
  /** Host directory shown as /tmp in sandboxed stages (see command-environment.ts). */
  sandboxTmp: string | null;
  maxFileBytes: number;
  /** `pipe`: stages read what `writeInput` sends, one stream for the whole list, like a terminal. */
  stdin: 'pipe' | 'none';
  /** stdout and stderr as one stream in the order written (sessions); `onOutput` then says `stdout`. */
  mergeOutput: boolean;
  onOutput: (stream: OutputStream, chunk: Buffer) => void;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  warn?: (message: string) => void;
}

export interface ScriptProcess {
  /** The status of the last pipeline that ran, once all output has been delivered. */
  readonly done: Promise<ExitStatus>;
  writeInput(data: string | Uint8Array): void;
  endInput(): void;
  /** Kill everything (SIGTERM, then SIGKILL); no further list item starts. */
  terminate(): void;
}

const DEFAULT_KILL_GRACE_MS = 500;
/** How long output may trail the last exit: only a process that escaped its group (setsid) delays EOF. */
const DRAIN_GRACE_MS = 500;

/** Starts a script in the background; the returned handle controls and awaits it. */
export async function startScript(script: Script, options: StartScriptOptions): Promise<ScriptProcess> {
  const pairs = await openSocketPairSource();
  const stdout = await pairs.create();
  const stderr = options.mergeOutput ? stdout : await pairs.create();
  const stdin = options.stdin === 'pipe' ? await pairs.create() : null;
  const fileLimit = await fileSizeLimit(options.maxFileBytes);
  if (fileLimit === null) options.warn?.('prlimit is not installed: the file-size limit (maxFileBytes) is not enforced');
  const groups = createProcessGroups(options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  const drained = [forward(stdout, 'stdout', options.onOutput)];
  if (stderr !== stdout) drained.push(forward(stderr, 'stderr', options.onOutput));

  const ctx: StageContext = { cwd: options.cwd, env: options.env, sandbox: options.sandbox, sandboxTmp: options.sandboxTmp, fileLimit, pairs, groups };
  const ends: ScriptEndpoints = {
    stdin: stdin === null ? { kind: 'null' } : { kind: 'socket', socket: stdin.theirs },
    stdout: { kind: 'socket', socket: stdout.theirs },
    stderr: { kind: 'socket', socket: stderr.theirs },
  };
  const release = async (): Promise<void> => {
    groups.close();
    for (const pair of [stdout, stderr, stdin]) pair?.theirs.destroy();
    stdin?.ours.destroy();
    await settleWithin(Promise.all(drained), DRAIN_GRACE_MS);
    stdout.ours.destroy();
    stderr.ours.destroy();
    await pairs.close();
  };
  const run = async (): Promise<ExitStatus> => {
    let finished = false;
    try {
      const status = await runList(script, ctx, ends, groups);
      finished = true;
      return status;
    } finally {
      // An internal failure half-way must not leave the stages that did start running.
      if (!finished) groups.killAll();
      await release();
    }
  };

  return {
    done: run(),
    writeInput: (data) => {
      stdin?.ours.write(data);
    },
    endInput: () => {
      stdin?.ours.end();
    },
    terminate: () => groups.terminate(),
  };
}

async function runList(script: Script, ctx: StageContext, ends: ScriptEndpoints, groups: ProcessGroups): Promise<ExitStatus> {
  let last: ExitStatus = { code: 0, signal: null };
  for (const [index, item] of script.items.entries()) {
    if (groups.terminated) return last.signal === null ? { code: null, signal: 'SIGTERM' } : last;
    const previous = shellStatus(last);
    if (index > 0 && item.connector === '&&' && previous !== 0) continue;
    if (index > 0 && item.connector === '||' && previous === 0) continue;
    last = await runPipeline(item.pipeline, ctx, ends);
  }
  return last;
}

function forward(pair: SocketPair, stream: OutputStream, onOutput: StartScriptOptions['onOutput']): Promise<void> {
  pair.ours.on('data', (chunk: Buffer) => onOutput(stream, chunk));
  pair.ours.resume();
  return new Promise((resolve) => pair.ours.once('close', () => resolve()));
}

async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise, expired]);
  clearTimeout(timer);
}
