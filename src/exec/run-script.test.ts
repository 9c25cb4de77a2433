import { createHook } from 'node:async_hooks';
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isIronError } from '../core/index.js';
import type { ExecLimits } from '../policy/index.js';
import type { Connector, Redirect, Script, Stage } from '../policy/index.js';
import { SAFE_PATH } from '../policy/index.js';
import { createProcessLimiter } from './process-limiter.js';
import { runScript, type RunOptions } from './run-script.js';
import { processesWith } from '../../test/support/process-scan.js';

const limits: ExecLimits = { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024, maxFileBytes: 1024 * 1024, maxProcesses: 8 };

function stage(argv: string[], redirects: Redirect[] = [], env: Record<string, string> = {}): Stage {
  return { argv, env, redirects };
}
function pipeline(...stages: Stage[]): Script {
  return { items: [{ connector: ';', pipeline: { stages, negated: false } }] };
}
function list(...items: [Connector, Stage[], boolean?][]): Script {
  return { items: items.map(([connector, stages, negated]) => ({ connector, pipeline: { stages, negated: negated ?? false } })) };
}

/** Timers (unref'd ones too) created while on and still pending once things settle. */
async function timersLeftBy(action: () => Promise<unknown>): Promise<number> {
  const live = new Set<number>();
  const hook = createHook({
    init: (id, type) => void (type === 'Timeout' && live.add(id)),
    destroy: (id) => void live.delete(id),
  }).enable();
  await action();
  const deadline = Date.now() + 1000;
  while (live.size > 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  hook.disable();
  return live.size;
}

let ws: string;
let options: RunOptions;

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'ironcode-run-'));
  options = { cwd: ws, roots: [ws], limits, sandbox: null };
});
afterEach(async () => {
  await rm(ws, { recursive: true, force: true });
});

describe('runScript: pipelines and lists', () => {
  it('runs a single command and captures stdout and stderr separately', async () => {
    await writeFile(join(ws, 'both.sh'), 'echo out\necho err >&2\nexit 3\n');
    const result = await runScript(pipeline(stage(['/bin/sh', 'both.sh'])), options);
    expect(result).toMatchObject({ exitCode: 3, signal: null, stdout: 'out\n', stderr: 'err\n', truncated: false, timedOut: false });
  });

  it('wires stages of a pipeline together and reports the last status', async () => {
    const result = await runScript(
      pipeline(stage(['/usr/bin/printf', 'b\\na\\nc\\n']), stage(['/usr/bin/sort']), stage(['/usr/bin/head', '-n', '2'])),
      options,
    );
    expect(result.stdout).toBe('a\nb\n');
    expect(result.exitCode).toBe(0);
  });

  it('runs pipeline stages concurrently', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/sleep', '0.5']), stage(['/usr/bin/sleep', '0.5'])), options);
    expect(result.durationMs).toBeLessThan(900);
  });

  it('ends an infinite writer when its reader exits (SIGPIPE reaches it)', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/yes']), stage(['/usr/bin/head', '-n', '1'])), options);
    expect(result.stdout).toBe('y\n');
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('short-circuits && and || on the previous status', async () => {
    const f = ['/usr/bin/false'];
    const t = ['/usr/bin/true'];
    const echo = (word: string) => [stage(['/usr/bin/echo', word])];
    expect((await runScript(list([';', [stage(f)]], ['&&', echo('no')]), options)).stdout).toBe('');
    expect((await runScript(list([';', [stage(f)]], ['&&', echo('no')]), options)).exitCode).toBe(1);
    expect((await runScript(list([';', [stage(f)]], ['||', echo('yes')]), options)).stdout).toBe('yes\n');
    expect((await runScript(list([';', [stage(t)]], ['||', echo('no')]), options)).stdout).toBe('');
    expect((await runScript(list([';', [stage(f)]], ['&&', echo('a')], ['||', echo('b')]), options)).stdout).toBe('b\n');
    const sequence = await runScript(list([';', echo('1')], [';', [stage(f)]], [';', echo('2')]), options);
    expect(sequence).toMatchObject({ stdout: '1\n2\n', exitCode: 0 });
    expect((await runScript(list([';', echo('1')], [';', [stage(f)]]), options)).exitCode).toBe(1);
  });

  it('negates a pipeline with !', async () => {
    expect((await runScript(list([';', [stage(['/usr/bin/true'])], true]), options)).exitCode).toBe(1);
    expect((await runScript(list([';', [stage(['/usr/bin/false'])], true]), options)).exitCode).toBe(0);
    const negatedPipe = list([';', [stage(['/usr/bin/false']), stage(['/usr/bin/true'])], true]);
    expect((await runScript(negatedPipe, options)).exitCode).toBe(1);
  });

  it('returns 127 with a clear message for a missing executable, and the rest of the list goes on', async () => {
    const result = await runScript(list([';', [stage(['/usr/bin/no-such-program'])]], ['||', [stage(['/usr/bin/echo', 'fallback'])]]), options);
    expect(result.stderr).toContain('/usr/bin/no-such-program: command not found');
    expect(result.stdout).toBe('fallback\n');
    const alone = await runScript(pipeline(stage(['/usr/bin/no-such-program'])), options);
    expect(alone.exitCode).toBe(127);
  });

  it('sends the missing-executable message where the stage stderr goes', async () => {
    const result = await runScript(
      pipeline(stage(['/usr/bin/no-such-program'], [{ kind: 'file', fd: 2, mode: 'write', path: '/dev/null' }])),
      options,
    );
    expect(result).toMatchObject({ exitCode: 127, stderr: '' });
  });

  it('returns 126 for a file that is not executable', async () => {
    await writeFile(join(ws, 'plain'), 'x');
    await chmod(join(ws, 'plain'), 0o644);
    const result = await runScript(pipeline(stage([join(ws, 'plain')])), options);
    expect(result.exitCode).toBe(126);
  });

  it('feeds options.stdin to the script', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/tr', 'a-z', 'A-Z'])), { ...options, stdin: 'hello\n' });
    expect(result.stdout).toBe('HELLO\n');
  });

  it('gives commands /dev/null as stdin when none is passed', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/cat'])), options);
    expect(result).toMatchObject({ stdout: '', exitCode: 0 });
  });
});

describe('runScript: redirects', () => {
  const out = (path: string, mode: 'write' | 'append' = 'write'): Redirect => ({ kind: 'file', fd: 1, mode, path });

  it('writes, appends and reads files', async () => {
    const file = join(ws, 'f.txt');
    await runScript(list([';', [stage(['/usr/bin/echo', 'a'], [out(file)])]], [';', [stage(['/usr/bin/echo', 'b'], [out(file, 'append')])]]), options);
    expect(await readFile(file, 'utf8')).toBe('a\nb\n');
    await runScript(pipeline(stage(['/usr/bin/echo', 'c'], [out(file)])), options);
    expect(await readFile(file, 'utf8')).toBe('c\n');
    const read = await runScript(pipeline(stage(['/usr/bin/cat'], [{ kind: 'file', fd: 0, mode: 'read', path: file }])), options);
    expect(read.stdout).toBe('c\n');
  });

  it('resolves relative redirect paths against the cwd', async () => {
    await runScript(pipeline(stage(['/usr/bin/echo', 'rel'], [out('rel.txt')])), options);
    expect(await readFile(join(ws, 'rel.txt'), 'utf8')).toBe('rel\n');
  });

  it('2>&1 merges stderr into stdout in the order written', async () => {
    await writeFile(join(ws, 'mix.sh'), 'echo 1\necho 2 >&2\necho 3\necho 4 >&2\necho 5\n');
    const result = await runScript(pipeline(stage(['/bin/sh', 'mix.sh'], [{ kind: 'dup', fd: 2, target: 1 }])), options);
    expect(result).toMatchObject({ stdout: '1\n2\n3\n4\n5\n', stderr: '' });
  });

  it('applies redirects in order: 2>&1 >file sends only stdout to the file', async () => {
    await writeFile(join(ws, 'mix.sh'), 'echo out\necho err >&2\n');
    const file = join(ws, 'only-out.txt');
    const result = await runScript(pipeline(stage(['/bin/sh', 'mix.sh'], [{ kind: 'dup', fd: 2, target: 1 }, out(file)])), options);
    expect(result.stdout).toBe('err\n');
    expect(await readFile(file, 'utf8')).toBe('out\n');
  });

  it('&> and >file 2>&1 put both streams into one file', async () => {
    await writeFile(join(ws, 'mix.sh'), 'echo out\necho err >&2\necho again\n');
    const both = join(ws, 'both.txt');
    await runScript(pipeline(stage(['/bin/sh', 'mix.sh'], [{ kind: 'file', fd: 1, mode: 'write', path: both, bothStdoutAndStderr: true }])), options);
    expect(await readFile(both, 'utf8')).toBe('out\nerr\nagain\n');
    const dup = join(ws, 'dup.txt');
    await runScript(pipeline(stage(['/bin/sh', 'mix.sh'], [out(dup), { kind: 'dup', fd: 2, target: 1 }])), options);
    expect(await readFile(dup, 'utf8')).toBe('out\nerr\nagain\n');
  });

  it('2>&1 | sends stderr down the pipe', async () => {
    await writeFile(join(ws, 'err.sh'), 'echo oops >&2\n');
    const result = await runScript(
      pipeline(stage(['/bin/sh', 'err.sh'], [{ kind: 'dup', fd: 2, target: 1 }]), stage(['/usr/bin/tr', 'a-z', 'A-Z'])),
      options,
    );
    expect(result).toMatchObject({ stdout: 'OOPS\n', stderr: '' });
  });

  it('>&2 sends stdout to stderr', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/echo', 'to-err'], [{ kind: 'dup', fd: 1, target: 2 }])), options);
    expect(result).toMatchObject({ stdout: '', stderr: 'to-err\n' });
  });

  it('writes here-string text to the stage stdin', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/cat'], [{ kind: 'text', fd: 0, text: 'here\nstring\n' }])), options);
    expect(result.stdout).toBe('here\nstring\n');
  });

  it('refuses to follow a symlink at the final component', async () => {
    const target = join(ws, 'target.txt');
    await writeFile(target, 'original\n');
    await symlink(target, join(ws, 'link.txt'));
    const result = await runScript(pipeline(stage(['/usr/bin/echo', 'overwritten'], [out(join(ws, 'link.txt'))])), options);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('symbolic link');
    expect(await readFile(target, 'utf8')).toBe('original\n');
  });

  it('fails the stage with status 1 when a file cannot be opened', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/cat'], [{ kind: 'file', fd: 0, mode: 'read', path: join(ws, 'missing') }])), options);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('No such file or directory');
  });
});

describe('runScript: environment', () => {
  it('starts from a cleared environment with a private HOME', async () => {
    process.env.IRONCODE_TEST_SECRET = 'do-not-leak';
    const result = await runScript(pipeline(stage(['/usr/bin/env'])), options);
    delete process.env.IRONCODE_TEST_SECRET;
    const names = result.stdout.trim().split('\n').map((line) => line.split('=')[0]).sort();
    expect(names).toEqual(expect.arrayContaining(['HOME', 'LANG', 'PATH', 'TERM']));
    expect(result.stdout).not.toContain('do-not-leak');
    expect(result.stdout).toContain(`PATH=${SAFE_PATH.join(':')}\n`);
    const home = /HOME=(.*)\n/.exec(result.stdout)?.[1] ?? '';
    expect(home).toMatch(/ironcode-home-/);
    await expect(stat(home)).rejects.toThrow();
  });

  it('adds stage assignments to that stage only', async () => {
    const result = await runScript(
      list([';', [stage(['/usr/bin/env'], [], { GREETING: 'hi' })]], [';', [stage(['/usr/bin/env'])]]),
      { ...options, env: { PATH: '/usr/bin' } },
    );
    expect(result.stdout).toBe('PATH=/usr/bin\nGREETING=hi\nPATH=/usr/bin\n');
  });
});

describe('runScript: limits', () => {
  it('keeps maxOutputBytes, marks the cut and drains the rest without blocking the writer', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/head', '-c', '5000000', '/dev/zero'])), {
      ...options,
      limits: { ...limits, maxOutputBytes: 2048 },
    });
    expect(result.truncated).toBe(true);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.startsWith('\0'.repeat(2048) + '\n[ironcode: output truncated after 2048 bytes')).toBe(true);
    expect(result.stdout).toContain(`${5_000_000 - 2048} more bytes of stdout discarded`);
  });

  it('counts stdout and stderr against one budget', async () => {
    await writeFile(join(ws, 'two.sh'), '/usr/bin/head -c 1500 /dev/zero\n/usr/bin/head -c 1500 /dev/zero >&2\n');
    const result = await runScript(pipeline(stage(['/bin/sh', 'two.sh'])), { ...options, limits: { ...limits, maxOutputBytes: 2048 } });
    expect(result.truncated).toBe(true);
    expect(result.stdout).toBe('\0'.repeat(1500));
    expect(result.stderr).toContain('\0'.repeat(548) + '\n[ironcode: output truncated');
  });

  it('does not split a UTF-8 character at the cut', async () => {
    await writeFile(join(ws, 'utf.txt'), 'é'.repeat(2000));
    const result = await runScript(pipeline(stage(['/usr/bin/cat', 'utf.txt'])), { ...options, limits: { ...limits, maxOutputBytes: 1025 } });
    expect(result.stdout.startsWith('é'.repeat(512) + '\n[ironcode')).toBe(true);
  });

  it('enforces maxFileBytes on files the command writes (RLIMIT_FSIZE)', async () => {
    const big = join(ws, 'big.bin');
    const result = await runScript(pipeline(stage(['/usr/bin/head', '-c', '100000', '/dev/zero'], [{ kind: 'file', fd: 1, mode: 'write', path: big }])), {
      ...options,
      limits: { ...limits, maxFileBytes: 4096 },
    });
    expect(result.signal).toBe('SIGXFSZ');
    expect((await stat(big)).size).toBe(4096);
    const viaDd = await runScript(pipeline(stage(['/usr/bin/dd', 'if=/dev/zero', `of=${join(ws, 'dd.bin')}`, 'bs=1k', 'count=64'])), {
      ...options,
      limits: { ...limits, maxFileBytes: 8192 },
    });
    expect(viaDd.exitCode === 0 && viaDd.signal === null).toBe(false);
    expect((await stat(join(ws, 'dd.bin'))).size).toBe(8192);
  });

  it('kills the whole process group on timeout, grandchildren included', async () => {
    const marker = `3600.${randomInt(100_000, 999_999)}`;
    await writeFile(join(ws, 'forks.sh'), `/usr/bin/sleep ${marker} &\n/usr/bin/sleep ${marker}\n`);
    const result = await runScript(pipeline(stage(['/bin/sh', 'forks.sh'])), { ...options, limits: { ...limits, timeoutMs: 300 } });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe('SIGTERM');
    expect(result.durationMs).toBeLessThan(2000);
    expect(await processesWith(marker)).toEqual([]);
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const marker = `3600.${randomInt(100_000, 999_999)}`;
    await writeFile(join(ws, 'stubborn.sh'), `trap '' TERM\n/usr/bin/sleep ${marker} &\n/usr/bin/sleep ${marker}\n`);
    let result: Awaited<ReturnType<typeof runScript>> | undefined;
    const timersLeft = await timersLeftBy(async () => {
      result = await runScript(pipeline(stage(['/bin/sh', 'stubborn.sh'])), { ...options, limits: { ...limits, timeoutMs: 300 } });
    });
    expect(timersLeft).toBe(0);
    if (result === undefined) throw new Error('no result');
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect(result.durationMs).toBeLessThan(3000);
    expect(await processesWith(marker)).toEqual([]);
  });

  it('leaves nothing behind when a stage exits before its children', async () => {
    const marker = `3600.${randomInt(100_000, 999_999)}`;
    await writeFile(join(ws, 'orphan.sh'), `/usr/bin/sleep ${marker} &\necho started\n`);
    const result = await runScript(pipeline(stage(['/bin/sh', 'orphan.sh'])), options);
    expect(result).toMatchObject({ exitCode: 0, stdout: 'started\n', timedOut: false });
    expect(result.durationMs).toBeLessThan(2000);
    expect(await processesWith(marker)).toEqual([]);
  });

  it('stops the script and the rest of the list when the abort signal fires', async () => {
    const marker = `3600.${randomInt(100_000, 999_999)}`;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await runScript(list([';', [stage(['/usr/bin/sleep', marker])]], [';', [stage(['/usr/bin/echo', 'after'])]]), {
      ...options,
      signal: controller.signal,
    });
    expect(result).toMatchObject({ aborted: true, timedOut: false, stdout: '' });
    expect(result.exitCode).toBeNull();
    expect(await processesWith(marker)).toEqual([]);
  });

  it('runs nothing when the signal is already aborted', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/echo', 'never'])), { ...options, signal: AbortSignal.abort() });
    expect(result).toMatchObject({ aborted: true, stdout: '', exitCode: null });
  });
});

describe('runScript: validation', () => {
  it('rejects a relative executable and a cwd outside the roots before running anything', async () => {
    await expect(runScript(pipeline(stage(['echo', 'x'])), options)).rejects.toMatchObject({ kind: 'validation' });
    await expect(runScript(pipeline(stage(['/usr/bin/true'])), { ...options, cwd: '/usr' })).rejects.toMatchObject({ kind: 'validation' });
  });
});

describe('createProcessLimiter', () => {
  it('caps processes per caller and frees slots on release', () => {
    const limiter = createProcessLimiter(2);
    const first = limiter.acquire('alice');
    limiter.acquire('alice');
    limiter.acquire('bob', 2);
    let error: unknown;
    try {
      limiter.acquire('alice');
    } catch (caught) {
      error = caught;
    }
    expect(isIronError(error) && error.kind === 'unavailable').toBe(true);
    expect(String(error)).toContain('"alice" already has 2 of 2 processes running');
    first.release();
    first.release();
    expect(limiter.inUse('alice')).toBe(1);
    expect(() => limiter.acquire('alice')).not.toThrow();
  });
});
