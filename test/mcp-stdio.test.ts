import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { connectStdio, createApiKey, mcpWorkspace, textOf, type StdioConnection } from './support/mcp.js';
import { processesWith } from './support/process-scan.js';

/**
 * The real `ironcode mcp` over stdio, driven by the official SDK client: what Claude
 * Desktop or Claude Code would do with it.
 */
describe('ironcode mcp (stdio)', () => {
  const { root, dataDir } = mcpWorkspace();
  let operatorKey: string;
  let viewerKey: string;
  let operator: StdioConnection;

  beforeAll(async () => {
    operatorKey = await createApiKey(dataDir, 'desktop', ['operator']);
    viewerKey = await createApiKey(dataDir, 'reader', ['viewer']);
    writeFileSync(path.join(root, 'notes.txt'), 'hello from the workspace\n');
    writeFileSync(path.join(root, '.env'), 'SECRET_TOKEN=abc123\n');
    operator = await connectStdio({ root, dataDir, apiKey: operatorKey });
  }, 60_000);

  afterAll(async () => {
    await operator?.close();
  });

  it('lists the tools an operator may call, with annotations and output schemas', async () => {
    const { tools } = await operator.client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toContain('desktop_run_command');
    expect(names).toContain('desktop_list_processes');
    for (const name of names) expect(name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    const run = tools.find((tool) => tool.name === 'desktop_run_command')!;
    expect(run.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: true });
    expect(run.outputSchema).toMatchObject({ type: 'object' });
    expect(run.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    // Short descriptions by default; the full usage travels in _meta for clients that want it.
    expect(run.description!.length).toBeLessThan(200);
    expect(run._meta?.['ironcode.dev/usage']).toEqual(expect.stringContaining('progress'));
  });

  it('shows a viewer only read tools, and refuses the others as a tool error naming the permission', async () => {
    const viewer = await connectStdio({ root, dataDir, apiKey: viewerKey });
    try {
      const { tools } = await viewer.client.listTools();
      expect(tools.map((t) => t.name)).not.toContain('desktop_run_command');
      expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
      const refused = await viewer.client.callTool({ name: 'desktop_run_command', arguments: { argv: ['true'] } });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/Not permitted: .*tool\.desktop\.run_command:execute/);
    } finally {
      await viewer.close();
    }
  });

  it('runs a command and returns structured content with a readable text', async () => {
    const result = await operator.client.callTool({ name: 'desktop_run_command', arguments: { command: 'cat notes.txt | wc -l' } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ exitCode: 0, stdout: '1\n', timedOut: false });
    expect(textOf(result)).toContain('exit code 0');
  });

  it('refuses what the policy refuses, saying which rule and why', async () => {
    const result = await operator.client.callTool({ name: 'desktop_run_command', arguments: { command: 'cat .env' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Refused by the safety policy, rule path\.sensitive \(high\): .*\.env/);
  });

  it('reports bad input as a tool error naming the field', async () => {
    const result = await operator.client.callTool({ name: 'desktop_run_command', arguments: { command: 'true', bogus: 1 } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Invalid input: .*bogus/);
  });

  it('answers an unknown tool with the protocol error the spec asks for', async () => {
    await expect(operator.client.callTool({ name: 'desktop_no_such_tool', arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  it('sends progress while a command runs and kills it when the call is cancelled', async () => {
    const progress: number[] = [];
    const controller = new AbortController();
    const call = operator.client.callTool(
      { name: 'desktop_run_command', arguments: { argv: ['sleep', '30'], cwd: '.' } },
      { onprogress: (p) => progress.push(p.progress), signal: controller.signal, timeout: 60_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    controller.abort('user pressed stop');
    await expect(call).rejects.toThrow();
    expect(progress.length).toBeGreaterThanOrEqual(1);
    const started = Date.now();
    let left = await processesWith('sleep 30');
    while (left.length > 0 && Date.now() - started < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await processesWith('sleep 30');
    }
    expect(left).toEqual([]);
  });

  it('keeps process sessions per caller: start, read, type, list, kill', async () => {
    const started = await operator.client.callTool({ name: 'desktop_start_process', arguments: { argv: ['cat'], waitMs: 100 } });
    expect(started.isError).toBeFalsy();
    const id = (started.structuredContent as { id: string }).id;
    const echoed = await operator.client.callTool({ name: 'desktop_send_input', arguments: { id, text: 'ping', waitMs: 2000 } });
    expect((echoed.structuredContent as { output: string }).output).toBe('ping\n');
    const listed = await operator.client.callTool({ name: 'desktop_list_processes', arguments: {} });
    expect((listed.structuredContent as { sessions: { id: string }[] }).sessions.map((s) => s.id)).toContain(id);
    const killed = await operator.client.callTool({ name: 'desktop_kill_process', arguments: { id } });
    expect((killed.structuredContent as { exited: boolean }).exited).toBe(true);
    const after = await operator.client.callTool({ name: 'desktop_read_process_output', arguments: { id, mode: 'tail' } });
    expect((after.structuredContent as { output: string }).output).toContain('ping');
  });

  it('records every call in an audit log that verifies', async () => {
    const tail = await runCli(['audit', 'tail', '--data-dir', dataDir, '--action', 'tool.*', '--limit', '200', '--json']);
    expect(tail.code).toBe(0);
    const events = tail.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; resource: string; decision: string; reason: string | null });
    expect(events.some((e) => e.resource === 'tool:desktop.run_command' && e.decision === 'denied' && /^path\.sensitive/.test(e.reason ?? ''))).toBe(true);
    expect(events.some((e) => e.resource === 'tool:desktop.run_command' && e.decision === 'denied' && /lacks|may not call/.test(e.reason ?? ''))).toBe(true);
    expect(events.some((e) => e.action === 'tool.result' && e.decision === 'failed' && /IRON_CANCELLED/.test(e.reason ?? ''))).toBe(true);
    expect(events.filter((e) => e.action === 'tool.call' && e.resource === 'tool:desktop.start_process')).toHaveLength(1);
    const verify = await runCli(['audit', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('exits when the client closes standard input', async () => {
    const connection = await connectStdio({ root, dataDir, apiKey: operatorKey });
    const pid = connection.transport.pid!;
    await connection.close();
    const started = Date.now();
    while (Date.now() - started < 10_000) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`ironcode mcp (pid ${pid}) still running 10 s after its client closed`);
  });

  it('refuses to start without a principal and says how to fix it', async () => {
    const env = { ...process.env };
    delete env.IRONCODE_API_KEY;
    const result = await runCli(['mcp', '--root', root, '--data-dir', dataDir], { env, timeoutMs: 30_000 });
    expect(result.code).toBe(77);
    expect(result.stderr).toMatch(/create-api-key/);
    expect(result.stderr).toMatch(/localOperator/);
  });

  it('refuses a revoked or wrong key at start', async () => {
    const result = await runCli(['mcp', '--root', root, '--data-dir', dataDir, '--api-key', `ironcode_${'A'.repeat(56)}`], { timeoutMs: 30_000 });
    expect(result.code).toBe(77);
    expect(result.stderr).toMatch(/API key was refused/);
  });
});
