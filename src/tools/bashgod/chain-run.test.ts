import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForbiddenError } from '../../core/index.js';
import type { Principal } from '../../identity/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import type { GuardedExec } from '../capabilities/guarded-exec.js';
import { missingExecutables } from './availability.js';
import { catalogue } from './catalogue.js';
import { capStream, runChain, type ChainContext, type StepResult } from './chain-run.js';
import { chainSchema, type ChainMode } from './chain-schema.js';
import { renderChain, type ChainPlan } from './chains.js';

const CI: Principal = { kind: 'user', id: 'usr_ci', name: 'ci', roles: ['ci'], permissions: [] };

/** A catalogue command whose programs this machine lacks (iostat, dig …), if there is one. */
const absent = catalogue().commands.find((command) => command.params.every((p) => p.required !== true) && missingExecutables(command).length > 0);

/** A chain built here from real catalogue commands, rendered by the same code as the built-in ones. */
function plan(mode: ChainMode, steps: unknown[], extra: Record<string, unknown> = {}): ChainPlan {
  const spec = chainSchema.parse({ id: 'test-chain', title: 'Test chain', description: 'A chain the test builds from real catalogue commands.', mode, steps, ...extra });
  return renderChain(spec, {});
}

interface Observed {
  ctx: ChainContext;
  progress: [number, number | undefined, string | undefined][];
  launched: string[][];
  maxInFlight: () => number;
}

/** The workspace's real context, with ctx.exec watched (what was launched, how many at once). */
function observed(options: { principal?: Principal; signal?: AbortSignal; onProgress?: (message: string | undefined) => void } = {}): Observed {
  const progress: Observed['progress'] = [];
  const context = ws.context({
    ...(options.principal === undefined ? {} : { principal: options.principal }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onProgress: (done, total, message) => {
      progress.push([done, total, message]);
      options.onProgress?.(message);
    },
  });
  const launched: string[][] = [];
  let inFlight = 0;
  let max = 0;
  const watched = async <T>(argvs: string[][], start: () => Promise<T>): Promise<T> => {
    launched.push(...argvs);
    inFlight += 1;
    max = Math.max(max, inFlight);
    try {
      return await start();
    } finally {
      inFlight -= 1;
    }
  };
  const exec: GuardedExec = {
    ...context.exec,
    run: (command, opts) => watched('argv' in command ? [[...command.argv]] : [], () => context.exec.run(command, opts)),
    runPipeline: (stages, opts) => watched(stages.map((s) => [...s]), () => context.exec.runPipeline(stages, opts)),
  };
  return { ctx: { exec, signal: context.signal, authorize: context.authorize, progress: context.progress }, progress, launched, maxInFlight: () => max };
}

const statuses = (steps: readonly StepResult[]) => Object.fromEntries(steps.map((step) => [step.id, step.status]));

let ws: ToolWorkspace;
beforeEach(async () => {
  ws = await toolWorkspace();
  writeFileSync(path.join(ws.root, 'a.txt'), 'alpha\n');
  writeFileSync(path.join(ws.root, 'b.txt'), 'beta\n');
  mkdirSync(path.join(ws.root, 'sub'));
  writeFileSync(path.join(ws.root, 'sub', 'c.txt'), 'gamma\n');
});
afterEach(async () => {
  await ws.close();
});

describe('sequential chains', () => {
  const steps = [
    { id: 'hash', command: 'file-sha256', params: { file: 'a.txt' } },
    { id: 'broken', command: 'file-sha256', params: { file: 'no-such-file.txt' } },
    { id: 'after', command: 'kernel-version' },
  ];

  it('runs every step in order and reports a partial result when one fails', async () => {
    const run = observed();
    const result = await runChain(run.ctx, plan('sequential', steps));
    expect(statuses(result.steps)).toEqual({ hash: 'ok', broken: 'failed', after: 'ok' });
    expect(result.status).toBe('partial');
    expect(run.launched.map((argv) => argv[0])).toEqual(['sha256sum', 'sha256sum', 'uname']);
    expect(result.steps[1]).toMatchObject({ exitCode: 1, reason: 'exit code 1' });
    expect(result.steps[1]!.stderr).toContain('no-such-file.txt');
    expect(result.steps[0]!.stdout).toMatch(/^[0-9a-f]{64} {2}a\.txt\n$/);
  });

  it('stops at the first failure when the chain says so, skipping the rest with the reason', async () => {
    const run = observed();
    const result = await runChain(run.ctx, plan('sequential', steps, { stopOnFailure: true }));
    expect(statuses(result.steps)).toEqual({ hash: 'ok', broken: 'failed', after: 'skipped' });
    expect(result.steps[2]!.reason).toBe('not run: step broken failed and the chain stops on failure');
    expect(result.status).toBe('failed');
    expect(run.launched).toHaveLength(2);
  });

  it('lets the caller override the chain: stopOnFailure false runs on, true stops', async () => {
    const keepGoing = await runChain(observed().ctx, plan('sequential', steps, { stopOnFailure: true }), { stopOnFailure: false });
    expect(statuses(keepGoing.steps).after).toBe('ok');
    const stop = await runChain(observed().ctx, plan('sequential', steps), { stopOnFailure: true });
    expect(statuses(stop.steps).after).toBe('skipped');
  });

  it('reports a policy refusal as denied with its rule and a missing program as missing, running neither', async () => {
    const run = observed();
    const planned = plan('sequential', [
      { id: 'lock', command: 'lock-is-free', params: { lockfile: 'deploy.lock' } },
      ...(absent === undefined ? [] : [{ id: 'absent', command: absent.id }]),
      { id: 'after', command: 'kernel-version' },
    ]);
    const result = await runChain(run.ctx, planned);
    expect(result.steps[0]).toMatchObject({ id: 'lock', status: 'denied', rule: 'command.not-allowlisted' });
    expect(result.steps[0]!.reason).toContain('flock');
    if (absent !== undefined) {
      expect(result.steps[1]).toMatchObject({ id: 'absent', status: 'missing' });
      expect(result.steps[1]!.reason).toBe(`${missingExecutables(absent).join(', ')} ${missingExecutables(absent).length === 1 ? 'is' : 'are'} not installed on this machine; install ${missingExecutables(absent).length === 1 ? 'it' : 'them'} or choose another command`);
    }
    expect(result.steps.at(-1)!.status).toBe('ok');
    expect(result.status).toBe('partial');
    expect(run.launched.map((argv) => argv[0])).toEqual(['uname']);
  });

  it('reports progress after every step', async () => {
    const run = observed();
    await runChain(run.ctx, plan('sequential', steps, { stopOnFailure: true }));
    expect(run.progress).toEqual([
      [1, 3, 'step hash: ok'],
      [2, 3, 'step broken: failed'],
      [3, 3, 'step after: skipped'],
    ]);
  });
});

describe('parallel chains', () => {
  it('runs steps at the same time, never more than four, results in plan order', async () => {
    const run = observed();
    const steps = Array.from({ length: 6 }, (_, i) => ({ id: `sample-${i}`, command: 'vmstat-sample', params: { interval: 1, count: 2 } }));
    const started = Date.now();
    const result = await runChain(run.ctx, plan('parallel', steps));
    const elapsed = Date.now() - started;
    expect(result.steps.map((s) => [s.id, s.status])).toEqual(steps.map((s) => [s.id, 'ok']));
    expect(result.status).toBe('ok');
    expect(run.maxInFlight()).toBe(4);
    // Six one-second samples one after another would take six seconds; four at a time take two.
    expect(elapsed).toBeLessThan(4500);
    expect(run.progress.map(([done]) => done)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reports a step refused for the process budget as an error and still runs the others', async () => {
    // Six of the standard profile's eight processes are taken by the caller's own sessions.
    const sessions = ws.context().exec;
    const held = await Promise.all(Array.from({ length: 6 }, () => sessions.start({ argv: ['sleep', '30'] })));
    try {
      const steps = Array.from({ length: 3 }, (_, i) => ({ id: `sample-${i}`, command: 'vmstat-sample', params: { interval: 1, count: 2 } }));
      const result = await runChain(observed().ctx, plan('parallel', steps));
      expect(result.steps.map((s) => s.status).sort()).toEqual(['error', 'ok', 'ok']);
      expect(result.steps.find((s) => s.status === 'error')!.reason).toMatch(/^IRON_UNAVAILABLE: .*processes running/);
      expect(result.status).toBe('partial');
    } finally {
      await Promise.all(held.map((session) => sessions.kill(session.id)));
    }
  });
});

describe('conditional chains', () => {
  const steps = [
    { id: 'check', command: 'file-sha256', params: { file: 'target.txt' } },
    { id: 'when-ok', command: 'file-type', params: { path: 'target.txt' }, when: { step: 'check', status: 'success' } },
    { id: 'when-failed', command: 'find-by-name', params: { path: '.', name: '*.txt', kind: 'f' }, when: { step: 'check', status: 'failure' } },
  ];

  it('takes the success branch when the condition step succeeds', async () => {
    writeFileSync(path.join(ws.root, 'target.txt'), 'here\n');
    const result = await runChain(observed().ctx, plan('conditional', steps));
    expect(statuses(result.steps)).toEqual({ check: 'ok', 'when-ok': 'ok', 'when-failed': 'skipped' });
    expect(result.steps[1]!.stdout).toMatch(/text/i);
    expect(result.steps[2]!.reason).toBe('runs only when step check ends in failure; it ended ok');
    expect(result.status).toBe('ok');
  });

  it('takes the failure branch when the condition step fails, and the chain is still ok', async () => {
    const result = await runChain(observed().ctx, plan('conditional', steps));
    expect(statuses(result.steps)).toEqual({ check: 'failed', 'when-ok': 'skipped', 'when-failed': 'ok' });
    expect(result.steps[1]!.reason).toBe('runs only when step check ends in success; it ended failed');
    expect(result.steps[2]!.stdout!.trim().split('\n').sort()).toEqual(['./a.txt', './b.txt', './sub/c.txt']);
    expect(result.status).toBe('ok');
  });

  it('skips both branches when the condition step could not run', async () => {
    const denied = [{ ...steps[0], command: 'lock-is-free', params: { lockfile: 'x.lock' } }, ...steps.slice(1)];
    const result = await runChain(observed().ctx, plan('conditional', denied));
    expect(statuses(result.steps)).toEqual({ check: 'denied', 'when-ok': 'skipped', 'when-failed': 'skipped' });
    expect(result.steps[2]!.reason).toBe('runs only when step check ends in failure; it was denied, so it did not run to an end');
    expect(result.status).toBe('failed');
  });
});

describe('pipeline chains', () => {
  it("feeds each step's stdout to the next through the executor, in one run", async () => {
    const run = observed();
    const result = await runChain(
      run.ctx,
      plan('pipeline', [
        { id: 'find', command: 'find-by-name', params: { path: '.', name: '*.txt', kind: 'f' } },
        { id: 'sort', command: 'sort-lines', params: { reverse: true } },
        { id: 'top', command: 'first-lines', params: { count: 2 } },
      ]),
    );
    expect(result.status).toBe('ok');
    // find alone would print three unsorted paths; the last stage saw them sorted and kept two.
    expect(result.steps[2]).toMatchObject({ id: 'top', status: 'ok', exitCode: 0, stdout: './sub/c.txt\n./b.txt\n' });
    expect(result.steps[0]).toMatchObject({ status: 'ok', reason: "stage 1 of 3: its output went to step sort; a pipeline reports only its last stage's exit status" });
    expect(result.steps[0]!.stdout).toBeUndefined();
    expect(run.launched).toEqual([
      ['find', '.', '-xdev', '-type', 'f', '-name', '*.txt'],
      ['sort', '-r'],
      ['head', '-n', '2'],
    ]);
    expect(run.maxInFlight()).toBe(1);
  });

  it('does not start when a stage is refused, naming the stage', async () => {
    const run = observed();
    const result = await runChain(
      run.ctx,
      plan('pipeline', [
        { id: 'find', command: 'find-by-name', params: { path: '.', name: '*.txt', kind: 'f' } },
        { id: 'lock', command: 'lock-is-free', params: { lockfile: 'x.lock' } },
        { id: 'count', command: 'count-lines' },
      ]),
    );
    expect(statuses(result.steps)).toEqual({ find: 'skipped', lock: 'denied', count: 'skipped' });
    expect(result.steps[0]!.reason).toBe('the pipeline did not start: step lock was denied');
    expect(result.status).toBe('failed');
    expect(run.launched).toEqual([]);
  });
});

describe('cancellation', () => {
  it('stops the running step and starts no more', async () => {
    const controller = new AbortController();
    const run = observed({
      signal: controller.signal,
      onProgress: (message) => {
        if (message === 'step first: ok') setTimeout(() => controller.abort(), 300);
      },
    });
    const started = Date.now();
    const result = await runChain(
      run.ctx,
      plan('sequential', [
        { id: 'first', command: 'utc-time' },
        { id: 'slow', command: 'vmstat-sample', params: { interval: 1, count: 20 } },
        { id: 'never', command: 'kernel-version' },
      ]),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(statuses(result.steps)).toEqual({ first: 'ok', slow: 'cancelled', never: 'cancelled' });
    expect(result.steps[1]!.reason).toBe('the call was cancelled while this step ran; it was stopped');
    expect(result.steps[2]!.reason).toBe('the call was cancelled before this step started');
    expect(result.status).toBe('cancelled');
    expect(run.launched.map((argv) => argv[0])).toEqual(['date', 'vmstat']);
    expect(run.progress.map(([, , message]) => message)).toEqual(['step first: ok', 'step slow: cancelled', 'step never: cancelled']);
  });

  it('starts nothing when cancelled before the chain begins', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = observed({ signal: controller.signal });
    const result = await runChain(run.ctx, plan('parallel', [{ id: 'a', command: 'utc-time' }, { id: 'b', command: 'kernel-version' }]));
    expect(statuses(result.steps)).toEqual({ a: 'cancelled', b: 'cancelled' });
    expect(result.status).toBe('cancelled');
    expect(run.launched).toEqual([]);
  });
});

describe("each step's own permission", () => {
  it('refuses the whole chain before anything runs when the caller lacks one step command\'s risk', async () => {
    const run = observed({ principal: CI });
    const planned = plan('sequential', [
      { id: 'time', command: 'utc-time' },
      { id: 'lock', command: 'lock-is-free', params: { lockfile: 'x.lock' } },
    ]);
    const refused = await runChain(run.ctx, planned).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ForbiddenError);
    expect((refused as ForbiddenError).permission).toBe('tool.bashgod.lock-is-free:write');
    expect(run.launched).toEqual([]);
    expect(run.progress).toEqual([]);
  });

  it('lets the ci role run read commands', async () => {
    const result = await runChain(observed({ principal: CI }).ctx, plan('sequential', [{ id: 'time', command: 'utc-time' }]));
    expect(result.status).toBe('ok');
  });
});

describe('output caps', () => {
  it('cuts each stream to the cap, marked truncated', async () => {
    writeFileSync(path.join(ws.root, 'big.txt'), `${'x'.repeat(99)}\n`.repeat(100));
    const result = await runChain(observed().ctx, plan('sequential', [{ id: 'tail', command: 'log-tail', params: { file: 'big.txt', lines: 100 } }]), { maxStreamBytes: 1000 });
    expect(result.steps[0]).toMatchObject({ status: 'ok', truncated: true });
    expect(result.steps[0]!.stdout).toMatch(/^x{99}\n[\s\S]*\[ironcode: step output cut at 1000 bytes; 9000 more bytes dropped\]\n$/);
  });

  it('never splits a UTF-8 character', () => {
    const cut = capStream('ééé', 3);
    expect(cut).toEqual({ text: 'é\n[ironcode: step output cut at 3 bytes; 4 more bytes dropped]\n', truncated: true });
    expect(capStream('short', 10)).toEqual({ text: 'short', truncated: false });
  });
});
