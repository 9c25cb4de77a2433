import { randomUUID } from 'node:crypto';
import { IronError, NotFoundError, UnavailableError } from '../core/index.js';
import type { ExecLimits } from '../policy/index.js';
import type { Script, Stage } from '../policy/index.js';
import { commandEnvironment } from './command-environment.js';
import type { ExitStatus } from './exit-status.js';
import { completeUtf8Length, createOutputRing, skipUtf8Continuation, type OutputRing } from './output-ring.js';
import type { ProcessLimiter, ProcessSlot } from './process-limiter.js';
import type { SandboxPlan } from './sandbox.js';
import { startScript, type ScriptProcess } from './script-process.js';
import { scriptLine } from './script-text.js';
import { validateRun } from './script-validation.js';

export interface ProcessSessionsOptions {
  /** maxOutputBytes sizes each session's buffer, maxFileBytes applies as in runScript. */
  limits: ExecLimits;
  sandbox: SandboxPlan | null;
  /** How long a finished session's output stays readable. */
  ttlMs: number;
  /** Sessions held at once, running or finished; the oldest finished one makes room. */
  maxSessions: number;
  /**
   * Wall clock a session may run. Not limits.timeoutMs: that bounds one-shot
   * commands, while a session exists to outlive one (a dev server, a REPL-like tool).
   */
  maxLifetimeMs?: number;
  /** Each running session holds one process slot of its caller. */
  limiter?: ProcessLimiter;
  killGraceMs?: number;
  warn?: (message: string) => void;
}

export interface SessionStartOptions {
  cwd: string;
  roots: readonly string[];
  env?: Record<string, string>;
}

export interface SessionReadOptions {
  /** `new`: output since the previous `new` read; `tail`: the last `lines` lines held. */
  mode?: 'new' | 'tail';
  lines?: number;
}

export interface SessionOutput {
  id: string;
  output: string;
  exited: boolean;
  exitCode: number | null;
  signal: string | null;
  /** `new` reads: bytes written since the last read that fell out of the buffer first. */
  missedBytes: number;
  /** Bytes dropped from the front of the buffer over the session's life. */
  droppedBytes: number;
}

export interface SessionInfo {
  id: string;
  callerId: string;
  command: string;
  startedAt: Date;
  running: boolean;
  exitCode: number | null;
  signal: string | null;
}

export interface ProcessSessions {
  /** Starts `command` with stdout and stderr merged into one buffer; returns the session id. */
  start(callerId: string, command: Script | Stage, options: SessionStartOptions): Promise<string>;
  read(id: string, options?: SessionReadOptions): SessionOutput;
  sendInput(id: string, text: string): void;
  list(callerId?: string): SessionInfo[];
  /** Terminates the session's processes; its output stays readable until it expires. */
  kill(id: string): Promise<void>;
  /** Kills everything still running and forgets all sessions; nothing is left behind. */
  close(): Promise<void>;
}

interface Session {
  id: string;
  callerId: string;
  command: string;
  startedAt: Date;
  ring: OutputRing;
  cursor: number;
  running: ScriptProcess;
  status: ExitStatus | null;
  /** Settles after the exit has been recorded and resources released. */
  finished: Promise<void>;
  lifetime: NodeJS.Timeout;
  expiry: NodeJS.Timeout | undefined;
}

const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
const DEFAULT_TAIL_LINES = 50;

export function createProcessSessions(options: ProcessSessionsOptions): ProcessSessions {
  const sessions = new Map<string, Session>();
  let starting = 0;
  const pending = new Set<Promise<unknown>>();
  let closed = false;

  const get = (id: string): Session => {
    const session = sessions.get(id);
    if (session === undefined) throw new NotFoundError(`no process session "${id}" (it may have expired)`, { details: { id } });
    return session;
  };

  const makeRoom = (): void => {
    if (sessions.size + starting < options.maxSessions) return;
    const oldestFinished = [...sessions.values()].find((session) => session.status !== null);
    if (oldestFinished === undefined) {
      throw new UnavailableError(`${options.maxSessions} process sessions are running; kill one before starting another`, {
        details: { maxSessions: options.maxSessions },
      });
    }
    forget(oldestFinished);
  };

  const forget = (session: Session): void => {
    clearTimeout(session.expiry);
    clearTimeout(session.lifetime);
    sessions.delete(session.id);
  };

  const start = async (callerId: string, command: Script | Stage, startOptions: SessionStartOptions): Promise<string> => {
    if (closed) throw new UnavailableError('process sessions are closed');
    const script: Script = 'argv' in command ? { items: [{ connector: ';', pipeline: { stages: [command], negated: false } }] } : command;
    validateRun(script, startOptions.cwd, startOptions.roots, options.sandbox);
    makeRoom();
    const slot = options.limiter?.acquire(callerId);
    starting += 1;
    const launching = launch(script, startOptions);
    pending.add(launching);
    const launched = await launching
      .catch((error: unknown) => {
        slot?.release();
        throw error;
      })
      .finally(() => {
        starting -= 1;
        pending.delete(launching);
      });
    const session = track(callerId, scriptLine(script), launched.ring, launched.running, slot, launched.release);
    sessions.set(session.id, session);
    // close() may have begun while this one was starting; it waits for `pending`.
    if (closed) session.running.terminate();
    return session.id;
  };

  const launch = async (script: Script, startOptions: SessionStartOptions) => {
    const environment = await commandEnvironment(startOptions.env, options.sandbox);
    const ring = createOutputRing(options.limits.maxOutputBytes);
    const running = await startScript(script, {
      cwd: startOptions.cwd,
      env: environment.env,
      sandbox: options.sandbox,
      sandboxTmp: environment.sandboxTmp,
      maxFileBytes: options.limits.maxFileBytes,
      stdin: 'pipe',
      mergeOutput: true,
      onOutput: (_stream, chunk) => ring.push(chunk),
      ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
      ...(options.warn === undefined ? {} : { warn: options.warn }),
    }).catch(async (error: unknown) => {
      await environment.release();
      throw error;
    });
    return { ring, running, release: environment.release };
  };

  const track = (
    callerId: string,
    command: string,
    ring: OutputRing,
    running: ScriptProcess,
    slot: ProcessSlot | undefined,
    release: () => Promise<void>,
  ): Session => {
    const session: Session = {
      id: randomUUID(),
      callerId,
      command,
      startedAt: new Date(),
      ring,
      cursor: 0,
      running,
      status: null,
      finished: Promise.resolve(),
      lifetime: setTimeout(() => running.terminate(), options.maxLifetimeMs ?? DEFAULT_LIFETIME_MS),
      expiry: undefined,
    };
    session.lifetime.unref();
    session.finished = running.done
      .catch((error: unknown) => {
        ring.push(Buffer.from(`\n[ironcode: session failed: ${error instanceof Error ? error.message : String(error)}]\n`));
        return { code: null, signal: null } satisfies ExitStatus;
      })
      .then(async (status) => {
        session.status = status;
        clearTimeout(session.lifetime);
        slot?.release();
        await release();
        if (closed || !sessions.has(session.id)) return;
        session.expiry = setTimeout(() => forget(session), options.ttlMs);
        session.expiry.unref();
      });
    return session;
  };

  const read = (id: string, readOptions: SessionReadOptions = {}): SessionOutput => {
    const session = get(id);
    const { ring } = session;
    let output: string;
    let missedBytes = 0;
    if ((readOptions.mode ?? 'new') === 'tail') {
      output = tail(ring.since(ring.start).data, readOptions.lines ?? DEFAULT_TAIL_LINES);
    } else {
      const { data, missed } = ring.since(session.cursor);
      // Hold back a character split across reads; a finished session has no rest coming.
      const usable = session.status === null ? completeUtf8Length(data) : data.length;
      const skip = missed > 0 ? skipUtf8Continuation(data) : 0;
      output = data.subarray(skip, usable).toString('utf8');
      missedBytes = missed;
      session.cursor = session.cursor + missed + usable;
    }
    return {
      id,
      output,
      exited: session.status !== null,
      exitCode: session.status?.code ?? null,
      signal: session.status?.signal ?? null,
      missedBytes,
      droppedBytes: ring.start,
    };
  };

  const sendInput = (id: string, text: string): void => {
    const session = get(id);
    if (session.status !== null) throw new IronError('conflict', `process session "${id}" has exited; it takes no more input`, { details: { id } });
    session.running.writeInput(text);
  };

  const list = (callerId?: string): SessionInfo[] =>
    [...sessions.values()]
      .filter((session) => callerId === undefined || session.callerId === callerId)
      .map((session) => ({
        id: session.id,
        callerId: session.callerId,
        command: session.command,
        startedAt: session.startedAt,
        running: session.status === null,
        exitCode: session.status?.code ?? null,
        signal: session.status?.signal ?? null,
      }));

  const kill = async (id: string): Promise<void> => {
    const session = get(id);
    session.running.terminate();
    await session.finished;
  };

  const close = async (): Promise<void> => {
    closed = true;
    await Promise.allSettled(pending);
    const all = [...sessions.values()];
    for (const session of all) session.running.terminate();
    await Promise.all(all.map((session) => session.finished));
    for (const session of all) forget(session);
  };

  return { start, read, sendInput, list, kill, close };
}

function tail(data: Buffer, lines: number): string {
  const text = data.subarray(skipUtf8Continuation(data)).toString('utf8');
  const parts = text.split('\n');
  const endsWithNewline = parts.at(-1) === '';
  if (endsWithNewline) parts.pop();
  const kept = parts.slice(Math.max(parts.length - lines, 0)).join('\n');
  return endsWithNewline && kept !== '' ? `${kept}\n` : kept;
}
