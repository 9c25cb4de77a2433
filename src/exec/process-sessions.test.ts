import { createHook } from 'node:async_hooks';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecLimits } from '../policy/index.js';
import type { Stage } from '../policy/index.js';
import { createProcessLimiter } from './process-limiter.js';
import { createProcessSessions, type ProcessSessions, type SessionOutput } from './process-sessions.js';
import { sandboxPlan } from './sandbox.js';
import { processesWith } from '../../test/support/process-scan.js';

const limits: ExecLimits = { timeoutMs: 1000, maxOutputBytes: 64 * 1024, maxFileBytes: 1024 * 1024, maxProcesses: 4 };

const echoScript = [
  'import sys',
  'print("ready", flush=True)',
  'for i in range(3):',
  '    print(f"line {i}", flush=True)',
  'for line in sys.stdin:',
  '    word = line.strip()',
  '    print("echo: " + word, flush=True)',
  '    if word == "quit":',
  '        break',
  'print("bye", file=sys.stderr, flush=True)',
].join('\n');

async function until(read: () => SessionOutput, done: (output: SessionOutput) => boolean, ms = 5000): Promise<SessionOutput> {
  const deadline = Date.now() + ms;
  let last = read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; last read: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    last = read();
  }
  return last;
}

/**
 * Timers created while it is on and not yet cleared or fired, unref'd ones included
 * (getActiveResourcesInfo only lists those that hold the process open).
 */
function trackTimers(): { settled(): Promise<number>; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    async settled() {
      const deadline = Date.now() + 1000;
      while (live.size > 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
      return live.size;
    },
    stop: () => hook.disable(),
  };
}

let ws: string;
let sessions: ProcessSessions;
const python = (marker: string): Stage => ({ argv: ['/usr/bin/python3', '-u', 'echo.py', marker], env: {}, redirects: [] });

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'ironcode-sessions-'));
  await writeFile(join(ws, 'echo.py'), echoScript);
  sessions = createProcessSessions({ limits, sandbox: null, ttlMs: 60_000, maxSessions: 4 });
});
afterEach(async () => {
  await sessions.close();
  await rm(ws, { recursive: true, force: true });
});

describe('process sessions', () => {
  it('reads new output incrementally, tails lines, takes input and outlives limits.timeoutMs', async () => {
    const marker = `m${randomInt(1e9)}`;
    const id = await sessions.start('alice', python(marker), { cwd: ws, roots: [ws] });
    const first = await until(() => sessions.read(id, { mode: 'tail' }), (out) => out.output.includes('line 2'));
    expect(first.output).toBe('ready\nline 0\nline 1\nline 2\n');
    expect(sessions.read(id).output).toBe('ready\nline 0\nline 1\nline 2\n');
    expect(sessions.read(id).output).toBe('');
    expect(sessions.read(id, { mode: 'tail', lines: 2 }).output).toBe('line 1\nline 2\n');

    await new Promise((resolve) => setTimeout(resolve, limits.timeoutMs + 200));
    sessions.sendInput(id, 'hello\n');
    const echoed = await until(() => sessions.read(id, { mode: 'tail', lines: 1 }), (out) => out.output.includes('echo: hello'));
    expect(echoed.exited).toBe(false);
    expect(sessions.read(id).output).toBe('echo: hello\n');

    sessions.sendInput(id, 'quit\n');
    const ended = await until(() => sessions.read(id, { mode: 'tail', lines: 10 }), (out) => out.exited);
    expect(ended).toMatchObject({ exitCode: 0, signal: null });
    expect(sessions.read(id).output).toBe('echo: quit\nbye\n');
    expect(sessions.read(id, { mode: 'tail', lines: 3 }).output).toBe('echo: hello\necho: quit\nbye\n');
    expect(() => sessions.sendInput(id, 'more\n')).toThrow(expect.objectContaining({ kind: 'conflict' }));
  });

  it('lists sessions per caller and kills one, whose output stays readable', async () => {
    const marker = `m${randomInt(1e9)}`;
    const a = await sessions.start('alice', python(marker), { cwd: ws, roots: [ws] });
    const b = await sessions.start('bob', python(marker), { cwd: ws, roots: [ws] });
    expect(sessions.list().map((info) => info.id).sort()).toEqual([a, b].sort());
    expect(sessions.list('alice')).toEqual([expect.objectContaining({ id: a, callerId: 'alice', running: true, command: `/usr/bin/python3 -u echo.py ${marker}` })]);
    await until(() => sessions.read(a, { mode: 'tail' }), (out) => out.output.includes('line 2'));
    await sessions.kill(a);
    const after = sessions.read(a, { mode: 'tail' });
    expect(after).toMatchObject({ exited: true, exitCode: null, signal: 'SIGTERM' });
    expect(after.output).toContain('line 2');
    expect(sessions.list('alice')[0]).toMatchObject({ running: false, signal: 'SIGTERM' });
    expect(sessions.list('bob')[0]).toMatchObject({ running: true });
  });

  it('keeps only the last bytes of a chatty session and counts what it dropped', async () => {
    const small = createProcessSessions({ limits: { ...limits, maxOutputBytes: 1024 }, sandbox: null, ttlMs: 60_000, maxSessions: 2 });
    const id = await small.start('alice', { argv: ['/usr/bin/seq', '1', '2000'], env: {}, redirects: [] }, { cwd: ws, roots: [ws] });
    const out = await until(() => small.read(id, { mode: 'tail', lines: 1 }), (read) => read.exited);
    expect(out.output).toBe('2000\n');
    const all = small.read(id);
    expect(all.missedBytes).toBeGreaterThan(0);
    expect(all.droppedBytes).toBe(all.missedBytes);
    expect(all.output.endsWith('1999\n2000\n')).toBe(true);
    expect(Buffer.byteLength(all.output)).toBeLessThanOrEqual(1024);
    await small.close();
  });

  it('expires finished sessions after the ttl', async () => {
    // Long enough that a loaded machine still reads the finished session before it expires.
    const quick = createProcessSessions({ limits, sandbox: null, ttlMs: 1000, maxSessions: 2 });
    const id = await quick.start('alice', { argv: ['/usr/bin/echo', 'done'], env: {}, redirects: [] }, { cwd: ws, roots: [ws] });
    const out = await until(() => quick.read(id), (read) => read.exited);
    expect(out.output).toBe('done\n');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(() => quick.read(id)).toThrow(expect.objectContaining({ kind: 'notFound' }));
    expect(quick.list()).toEqual([]);
    await quick.close();
  });

  it('caps sessions, making room from finished ones first', async () => {
    const capped = createProcessSessions({ limits, sandbox: null, ttlMs: 60_000, maxSessions: 2 });
    const marker = `m${randomInt(1e9)}`;
    const finished = await capped.start('alice', { argv: ['/usr/bin/true'], env: {}, redirects: [] }, { cwd: ws, roots: [ws] });
    await until(() => capped.read(finished), (read) => read.exited);
    await capped.start('alice', python(marker), { cwd: ws, roots: [ws] });
    await capped.start('alice', python(marker), { cwd: ws, roots: [ws] });
    expect(() => capped.read(finished)).toThrow(expect.objectContaining({ kind: 'notFound' }));
    await expect(capped.start('alice', python(marker), { cwd: ws, roots: [ws] })).rejects.toMatchObject({ kind: 'unavailable' });
    await capped.close();
    expect(await processesWith(marker)).toEqual([]);
  });

  it('holds a process slot of the caller while running', async () => {
    const limiter = createProcessLimiter(1);
    const limited = createProcessSessions({ limits, sandbox: null, ttlMs: 60_000, maxSessions: 4, limiter });
    const marker = `m${randomInt(1e9)}`;
    const id = await limited.start('alice', python(marker), { cwd: ws, roots: [ws] });
    await expect(limited.start('alice', python(marker), { cwd: ws, roots: [ws] })).rejects.toMatchObject({ kind: 'unavailable' });
    await limited.kill(id);
    expect(limiter.inUse('alice')).toBe(0);
    await limited.close();
  });

  it('close() kills everything and leaves no processes and no timers', async () => {
    const timers = trackTimers();
    // Every timer of ours would outlive the check: ttl 60 s, lifetime 1 h, kill grace 30 s.
    const own = createProcessSessions({ limits, sandbox: null, ttlMs: 60_000, maxSessions: 4, killGraceMs: 30_000 });
    const marker = `m${randomInt(1e9)}`;
    const ids = [
      await own.start('alice', python(marker), { cwd: ws, roots: [ws] }),
      await own.start('bob', python(marker), { cwd: ws, roots: [ws] }),
      await own.start('bob', { argv: ['/usr/bin/echo', marker], env: {}, redirects: [] }, { cwd: ws, roots: [ws] }),
    ];
    await until(() => own.read(ids[2] as string), (read) => read.exited);
    expect((await processesWith(marker)).length).toBeGreaterThan(0);
    await own.close();
    expect(await processesWith(marker)).toEqual([]);
    expect(own.list()).toEqual([]);
    const leftTimers = await timers.settled();
    timers.stop();
    expect(leftTimers).toBe(0);
    await expect(own.start('alice', python(marker), { cwd: ws, roots: [ws] })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('runs sessions in the sandbox', async () => {
    const plan = await sandboxPlan({ mode: 'required', network: false, roots: [ws] });
    const boxed = createProcessSessions({ limits, sandbox: plan, ttlMs: 60_000, maxSessions: 2 });
    const marker = `m${randomInt(1e9)}`;
    const id = await boxed.start('alice', python(marker), { cwd: ws, roots: [ws] });
    await until(() => boxed.read(id, { mode: 'tail' }), (out) => out.output.includes('line 2'));
    boxed.sendInput(id, 'boxed\n');
    await until(() => boxed.read(id, { mode: 'tail', lines: 1 }), (out) => out.output === 'echo: boxed\n');
    await boxed.close();
    expect(await processesWith(marker)).toEqual([]);
  });
});
