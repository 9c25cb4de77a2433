import { spawn, type StdioOptions } from 'node:child_process';
import { constants, writeSync } from 'node:fs';
import { open, realpath, unlink, type FileHandle } from 'node:fs/promises';
import type net from 'node:net';
import type { Stage } from '../policy/index.js';
import type { ExitStatus } from './exit-status.js';
import { executableProblem } from './executable-check.js';
import type { ProcessGroups } from './process-groups.js';
import { redirectTable, type FdSource } from './redirect-table.js';
import type { SandboxPlan } from './sandbox.js';
import type { SocketPair, SocketPairSource } from './socket-pair.js';
import { stageCommand, type FileSizeLimit } from './stage-command.js';

/** Where a descriptor leads by default: a socket end held by the runner, or /dev/null. */
export type Endpoint = { kind: 'socket'; socket: net.Socket } | { kind: 'null' };

export interface StageContext {
  cwd: string;
  env: Record<string, string>;
  sandbox: SandboxPlan | null;
  /** Host directory shown as /tmp in sandboxed stages. */
  sandboxTmp: string | null;
  fileLimit: FileSizeLimit | null;
  pairs: SocketPairSource;
  groups: ProcessGroups;
}

/** A stage that was started (or failed to start); `exited` settles once it is gone. */
export interface LaunchedStage {
  exited: Promise<ExitStatus>;
}

type StdioValue = net.Socket | number | 'ignore';
type Opened = { ok: true; value: StdioValue } | { ok: false; message: string };

/**
 * Opens a stage's redirects, checks its program and spawns it in its own process
 * group. Failures before the exec behave as in a shell: a message on stderr and a
 * status (1 for a redirect, 126/127 for the program), the rest of the pipeline runs.
 */
export async function launchStage(stage: Stage, defaults: ReadonlyMap<number, Endpoint>, ctx: StageContext): Promise<LaunchedStage> {
  const fallbackStderr = endpointValue(defaults.get(2));
  const table = redirectTable(defaults, stage.redirects, ctx.cwd);
  if (!table.ok) return failed(fallbackStderr, `ironcode: ${table.message}\n`, 1);

  const resources = new StageResources();
  const stdio: StdioValue[] = [];
  for (const [fd, source] of [...table.fds].sort(([a], [b]) => a - b)) {
    const opened = await resources.materialize(source, ctx.pairs);
    if (!opened.ok) {
      await resources.release();
      return failed(fallbackStderr, opened.message, 1);
    }
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = opened.value;
  }
  const stderr = stdio[2] ?? 'ignore';
  const argv0 = stage.argv[0] ?? '';
  const problem = await executableProblem(argv0, ctx.sandbox);
  if (problem !== null || ctx.groups.terminated) {
    if (problem !== null) report(stderr, problem.message);
    await resources.release();
    return settled(problem === null ? { code: null, signal: 'SIGKILL' } : { code: problem.status, signal: null });
  }

  const command = stageCommand(stage.argv, { ...ctx.env, ...stage.env }, ctx.cwd, ctx.sandbox, ctx.fileLimit, ctx.sandboxTmp);
  const child = spawn(command.file, command.args, {
    cwd: ctx.cwd,
    env: command.env,
    stdio: stdio as StdioOptions,
    detached: true,
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) ctx.groups.exited(child.pid);
      resolve({ code, signal });
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      report(stderr, `ironcode: ${argv0}: ${error.message}\n`);
      resolve({ code: error.code === 'ENOENT' ? 127 : 126, signal: null });
    });
  });
  if (child.pid !== undefined) ctx.groups.add(child.pid);
  await resources.handOver();
  return { exited };
}

/** What one stage opened; the child holds its own copies once spawned. */
class StageResources {
  private readonly values = new Map<FdSource<Endpoint>, Opened>();
  private readonly files: FileHandle[] = [];
  private readonly texts: { pair: SocketPair; text: string }[] = [];

  /** Each source once, so descriptors that share a source share the open file. */
  async materialize(source: FdSource<Endpoint>, pairs: SocketPairSource): Promise<Opened> {
    const known = this.values.get(source);
    if (known !== undefined) return known;
    const opened = await this.open(source, pairs);
    this.values.set(source, opened);
    return opened;
  }

  private async open(source: FdSource<Endpoint>, pairs: SocketPairSource): Promise<Opened> {
    if (source.kind === 'inherited') return { ok: true, value: endpointValue(source.endpoint) };
    if (source.kind === 'text') {
      const pair = await pairs.create();
      this.texts.push({ pair, text: source.text });
      return { ok: true, value: pair.theirs };
    }
    const opened = await openRedirect(source.path, source.mode);
    if (opened.ok) this.files.push(opened.file);
    return opened.ok ? { ok: true, value: opened.file.fd } : opened;
  }

  /** After spawn: feed here-strings and drop this process's copies. */
  async handOver(): Promise<void> {
    for (const { pair, text } of this.texts) {
      pair.theirs.destroy();
      pair.ours.end(text);
    }
    await Promise.all(this.files.map((file) => file.close()));
  }

  async release(): Promise<void> {
    for (const { pair } of this.texts) {
      pair.theirs.destroy();
      pair.ours.destroy();
    }
    await Promise.all(this.files.map((file) => file.close()));
  }
}

/**
 * Opens a redirect target the policy approved, without trusting the path twice.
 * O_NOFOLLOW only guards the last component, and a directory on the way can be
 * swapped for a symlink between the check and the open; so the file that was
 * actually opened is identified through /proc/self/fd and must be the approved
 * one. Truncation waits until then, and a file this open created elsewhere is
 * removed again. O_NONBLOCK: opening a FIFO must not park a libuv thread forever;
 * FIFOs and sockets are then refused outright.
 */
async function openRedirect(
  path: string,
  mode: 'read' | 'write' | 'append',
): Promise<{ ok: true; file: FileHandle } | { ok: false; message: string }> {
  const base = constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const access = mode === 'read' ? constants.O_RDONLY : constants.O_WRONLY | (mode === 'append' ? constants.O_APPEND : 0);
  let created = false;
  let file: FileHandle | string;
  if (mode === 'read') file = await open(path, access | base).catch(describeOpenError);
  else {
    file = await open(path, access | base | constants.O_CREAT | constants.O_EXCL, 0o666).catch((error: NodeJS.ErrnoException) =>
      error.code === 'EEXIST' ? 'exists' : describeOpenError(error),
    );
    if (file === 'exists') file = await open(path, access | base).catch(describeOpenError);
    else created = typeof file !== 'string';
  }
  if (typeof file === 'string') return { ok: false, message: `ironcode: ${path}: ${file}\n` };
  const actual = await realpath(`/proc/self/fd/${file.fd}`).catch(() => undefined);
  if (actual !== path) {
    await file.close();
    if (created && actual !== undefined) await unlink(actual).catch(() => undefined);
    return { ok: false, message: `ironcode: ${path}: changed since it was checked (it now leads to ${actual ?? 'an unknown file'}); refused\n` };
  }
  const info = await file.stat();
  if (info.isFIFO() || info.isSocket()) {
    await file.close();
    return { ok: false, message: `ironcode: ${path}: is a FIFO or socket; only files and devices can be redirected\n` };
  }
  if (mode === 'write' && info.isFile()) await file.truncate(0);
  return { ok: true, file };
}

function describeOpenError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ELOOP':
      return 'is a symbolic link; refusing to follow it';
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'Permission denied';
    case 'EISDIR':
      return 'Is a directory';
    case 'EROFS':
      return 'Read-only file system';
    default:
      return error.message;
  }
}

function endpointValue(endpoint: Endpoint | undefined): StdioValue {
  return endpoint === undefined || endpoint.kind === 'null' ? 'ignore' : endpoint.socket;
}

/** Messages go where the stage's stderr goes, so `2>/dev/null` silences them as in a shell. */
function report(target: StdioValue, message: string): void {
  if (typeof target === 'number') writeSync(target, message);
  else if (typeof target === 'object') target.write(message);
}

function failed(stderr: StdioValue, message: string, code: number): LaunchedStage {
  report(stderr, message);
  return settled({ code, signal: null });
}

function settled(status: ExitStatus): LaunchedStage {
  return { exited: Promise.resolve(status) };
}
