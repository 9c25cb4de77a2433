import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testDatabase, type TestDatabase } from '../../test/support/test-database.js';
import { TEST_OPERATOR, toolWorkspace, type ToolWorkspace } from '../../test/support/tools.js';
import { createAuditLog, verifyAuditLog } from '../audit/index.js';
import type { AuditLog } from '../audit/index.js';
import { IronError, createLogger } from '../core/index.js';
import { builtinRbac, type Principal } from '../identity/index.js';
import { createAdmission } from './admission.js';
import { createInvoker, type CallOutcome, type Invoker } from './invoke.js';
import { createToolRegistry } from './registry.js';
import { anyTool, defineTool } from './tool.js';

const VIEWER: Principal = { kind: 'user', id: 'usr_viewer', name: 'vera', roles: ['viewer'], permissions: [] };

const echo = defineTool('probe', {
  name: 'echo',
  title: 'Echo',
  description: 'Returns its input.',
  input: z.strictObject({ text: z.string().max(100), apiKey: z.string().optional() }),
  output: z.object({ text: z.string() }),
  risk: 'read',
  run: async (_ctx, input) => ({ text: input.text }),
  auditResult: (output) => ({ length: output.text.length }),
});

const readSecret = defineTool('probe', {
  name: 'read',
  title: 'Read through ctx.fs',
  description: 'Reads a file through the guarded file system.',
  input: z.strictObject({ path: z.string() }),
  output: z.object({ bytes: z.number() }),
  risk: 'read',
  run: async (ctx, input) => ({ bytes: (await ctx.fs.readFile(input.path)).data.length }),
});

const touch = defineTool('probe', {
  name: 'touch',
  title: 'Write',
  description: 'Writes a file.',
  input: z.strictObject({ path: z.string() }),
  output: z.object({ path: z.string() }),
  risk: 'write',
  run: async (ctx, input) => ({ path: (await ctx.fs.writeFile(input.path, 'x')).path }),
});

let failures = 0;
const flaky = defineTool('probe', {
  name: 'flaky',
  title: 'Fails',
  description: 'Always fails.',
  input: z.strictObject({}),
  output: z.object({}),
  risk: 'read',
  run: async () => {
    failures += 1;
    throw new Error('backend exploded');
  },
});

const liar = defineTool('probe', {
  name: 'liar',
  title: 'Bad output',
  description: 'Returns output that breaks its own schema.',
  input: z.strictObject({}),
  output: z.object({ count: z.number() }),
  risk: 'read',
  run: async () => ({ count: 'many' }) as unknown as { count: number },
});

const slow = defineTool('probe', {
  name: 'slow',
  title: 'Slow',
  description: 'Reports progress until cancelled.',
  input: z.strictObject({ steps: z.number().int().min(1).max(100) }),
  output: z.object({ done: z.number() }),
  risk: 'execute',
  async run(ctx, input) {
    for (let step = 1; step <= input.steps; step++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ctx.signal.throwIfAborted();
      ctx.progress(step, input.steps, `step ${step}`);
    }
    return { done: input.steps };
  },
});

const adminOnly = defineTool('probe', {
  name: 'reconfigure',
  title: 'Admin',
  description: 'Needs admin.',
  input: z.strictObject({}),
  output: z.object({ ok: z.boolean() }),
  risk: 'admin',
  run: async () => ({ ok: true }),
});

const registry = createToolRegistry([
  { name: 'probe', description: 'Test tools', tools: [echo, readSecret, touch, flaky, liar, slow, adminOnly].map((tool) => anyTool(tool as never)) },
]);

describe('invoke', () => {
  let db: TestDatabase;
  let audit: AuditLog;
  let ws: ToolWorkspace;
  let invoker: Invoker;
  const key = randomBytes(32);
  const observed: { tool: string; outcome: CallOutcome }[] = [];

  beforeAll(async () => {
    db = await testDatabase('sqlite');
    audit = createAuditLog(db.store, { key });
    ws = await toolWorkspace();
    invoker = createInvoker({
      registry,
      rbac: builtinRbac(),
      audit,
      admission: createAdmission({
        perPrincipal: { ratePerSecond: 1000, burst: 1000, concurrency: 8 },
        perTool: { ratePerSecond: 1000, burst: 1000, concurrency: 8 },
        breaker: { consecutiveFailures: 3, halfOpenAfterSeconds: 60 },
      }),
      contexts: ws.env,
      logger: createLogger({ level: 'silent', format: 'json' }),
      metrics: { observe: (tool, outcome) => observed.push({ tool, outcome }) },
    });
  });

  afterAll(async () => {
    await audit.close();
    await ws.close();
    await db.dispose();
  });

  const lastEvents = async (n: number) => (await audit.query({ limit: n, order: 'desc' })).reverse();

  it('runs an allowed call and records it once, with redacted arguments and the result summary', async () => {
    const result = await invoker.invoke(TEST_OPERATOR, 'probe_echo', { text: 'hello', apiKey: 'sk-abcdef0123456789abcdef' });
    expect(result.output).toEqual({ text: 'hello' });
    const [event] = await lastEvents(1);
    expect(event).toMatchObject({ action: 'tool.call', resource: 'tool:probe.echo', decision: 'allowed', principal: 'usr_test', requestId: result.callId });
    expect(event!.args).toEqual({ text: 'hello', apiKey: '[REDACTED]' });
    expect(event!.result).toEqual({ length: 5 });
  });

  it('finds tools by id and by MCP name alike', async () => {
    await expect(invoker.invoke(TEST_OPERATOR, 'probe.echo', { text: 'a' })).resolves.toMatchObject({ output: { text: 'a' } });
  });

  it.each([
    ['an unknown field', { text: 'x', extra: 1 }, /extra|unrecognized/i],
    ['a wrong type', { text: 5 }, /text/],
    ['a too long value', { text: 'x'.repeat(101) }, /text/],
    ['no input at all', undefined, /text/],
  ])('refuses %s with a validation error naming the field, and audits it', async (_name, input, message) => {
    const error = await invoker.invoke(TEST_OPERATOR, 'probe_echo', input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IronError);
    expect((error as IronError).kind).toBe('validation');
    expect((error as IronError).message).toMatch(message);
    const [event] = await lastEvents(1);
    expect(event).toMatchObject({ action: 'tool.call', decision: 'denied' });
    expect(event!.reason).toMatch(/IRON_VALIDATION/);
  });

  it('refuses a tool the role does not grant before looking at the input, and audits it', async () => {
    const error = await invoker.invoke(VIEWER, 'probe_touch', { nonsense: true }).catch((e: unknown) => e);
    expect((error as IronError).kind).toBe('forbidden');
    expect((error as IronError).message).toContain('tool.probe.touch:write');
    const [event] = await lastEvents(1);
    expect(event).toMatchObject({ principal: 'usr_viewer', resource: 'tool:probe.touch', decision: 'denied' });
    expect(invoker.visibleTools(VIEWER).map((t) => t.mcpName)).toEqual(['probe_echo', 'probe_read', 'probe_flaky', 'probe_liar']);
    expect(invoker.visibleTools(TEST_OPERATOR).map((t) => t.mcpName)).not.toContain('probe_reconfigure');
  });

  it('an unknown tool is a not-found error, audited', async () => {
    const error = await invoker.invoke(TEST_OPERATOR, 'probe_nothing', {}).catch((e: unknown) => e);
    expect((error as IronError).kind).toBe('notFound');
    const [event] = await lastEvents(1);
    expect(event).toMatchObject({ resource: 'tool:probe_nothing', decision: 'denied' });
  });

  it('a policy refusal inside the handler names the rule, in the error and in the audit log', async () => {
    writeFileSync(path.join(ws.root, '.env'), 'TOKEN=1');
    const error = await invoker.invoke(TEST_OPERATOR, 'probe_read', { path: '.env' }).catch((e: unknown) => e);
    expect((error as IronError).kind).toBe('policyDenied');
    const [event] = await lastEvents(1);
    expect(event).toMatchObject({ decision: 'denied' });
    expect(event!.reason).toMatch(/^path\.sensitive: /);
  });

  it('a write tool is recorded before it runs and when it ends', async () => {
    const result = await invoker.invoke(TEST_OPERATOR, 'probe_touch', { path: 'out.txt' });
    const [before, after] = await lastEvents(2);
    expect(before).toMatchObject({ action: 'tool.call', decision: 'allowed', requestId: result.callId, args: { path: 'out.txt' } });
    expect(after).toMatchObject({ action: 'tool.result', decision: 'allowed', requestId: result.callId });
  });

  it('output that breaks the schema is a failure, not a result', async () => {
    const error = await invoker.invoke(TEST_OPERATOR, 'probe_liar', {}).catch((e: unknown) => e);
    expect((error as IronError).kind).toBe('internal');
    expect((error as IronError).message).toMatch(/does not match its schema/);
  });

  it('reports progress and honours cancellation', async () => {
    const updates: number[] = [];
    await expect(invoker.invoke(TEST_OPERATOR, 'probe_slow', { steps: 3 }, { onProgress: (u) => updates.push(u.progress) })).resolves.toMatchObject({ output: { done: 3 } });
    expect(updates).toEqual([1, 2, 3]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await invoker.invoke(TEST_OPERATOR, 'probe_slow', { steps: 100 }, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as IronError).kind).toBe('cancelled');
    const [event] = await lastEvents(1);
    expect(event).toMatchObject({ action: 'tool.result', decision: 'failed' });
  });

  it('opens the breaker after consecutive failures of the tool itself, not of its callers', async () => {
    failures = 0;
    for (let i = 0; i < 3; i++) await expect(invoker.invoke(TEST_OPERATOR, 'probe_flaky', {})).rejects.toThrow(/backend exploded/);
    const error = await invoker.invoke(TEST_OPERATOR, 'probe_flaky', {}).catch((e: unknown) => e);
    expect((error as IronError).kind).toBe('unavailable');
    expect((error as IronError).message).toMatch(/switched off/);
    expect(failures).toBe(3);
    // Bad input never reaches the breaker: echo stays healthy however often it is misused.
    for (let i = 0; i < 5; i++) await expect(invoker.invoke(TEST_OPERATOR, 'probe_echo', { text: 1 })).rejects.toThrow();
    await expect(invoker.invoke(TEST_OPERATOR, 'probe_echo', { text: 'ok' })).resolves.toBeDefined();
  });

  it('records metrics for every outcome', () => {
    const outcomes = new Set(observed.map((o) => o.outcome));
    for (const outcome of ['ok', 'invalid', 'forbidden', 'denied', 'failed', 'cancelled'] as const) expect(outcomes).toContain(outcome);
  });

  it('leaves an audit log that verifies', async () => {
    await audit.flush();
    const verdict = await verifyAuditLog(db.store, key);
    expect(verdict.ok).toBe(true);
    expect(verdict.checked).toBeGreaterThan(10);
  });
});

describe('admission', () => {
  it('refuses past the rate and the concurrency cap, saying which limit and when to retry', () => {
    let now = 0;
    const admission = createAdmission(
      {
        perPrincipal: { ratePerSecond: 2, burst: 2, concurrency: 10 },
        perTool: { ratePerSecond: 100, burst: 100, concurrency: 1 },
        breaker: { consecutiveFailures: 5, halfOpenAfterSeconds: 30 },
      },
      { now: () => now },
    );
    const first = admission.admit('p', 'a.one');
    expect(() => admission.admit('q', 'a.one')).toThrow(/tool a\.one already has 1 tool calls running/);
    first.release();
    admission.admit('p', 'a.two').release();
    expect(() => admission.admit('p', 'a.three')).toThrow(/principal p is over its limit of 2 tool calls per second; retry in 500 ms/);
    now += 500;
    expect(() => admission.admit('p', 'a.three').release()).not.toThrow();
  });
});
