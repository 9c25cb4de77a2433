import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './run-cli.js';
import { connectStdio, createApiKey, mcpWorkspace, textOf, type StdioConnection } from './support/mcp.js';

/**
 * `ask` rules end to end: a profile that asks before running anything off its
 * allowlist; an MCP client that can elicit asks its user, one that cannot gets an
 * approval id that an administrator grants with the CLI.
 */
describe('approvals of ask rules', () => {
  const { root, dataDir } = mcpWorkspace();
  const profile = path.join(root, 'ask.yaml');
  let key: string;
  let plain: StdioConnection;

  beforeAll(async () => {
    writeFileSync(profile, ['name: ask-first', 'description: standard, but asks before running programs off the list', 'extends: standard', 'ask: [command.not-allowlisted]', ''].join('\n'));
    writeFileSync(path.join(root, 'data.txt'), 'one\n');
    key = await createApiKey(dataDir, 'agent', ['operator']);
    plain = await connectStdio({ root, dataDir, apiKey: key, args: ['--profile', profile] });
  }, 60_000);

  afterAll(async () => {
    await plain?.close();
  });

  const sum = { name: 'desktop_run_command', arguments: { argv: ['sum', 'data.txt'] } };

  it('refuses with an approval id when the client cannot ask its user, and runs once after an admin grants it', async () => {
    const refused = await plain.client.callTool(sum);
    expect(refused.isError).toBe(true);
    const id = /ironcode approvals grant (apr_\w+)/.exec(textOf(refused))?.[1];
    expect(id, textOf(refused)).toBeDefined();
    expect(textOf(refused)).toMatch(/rule command\.not-allowlisted/);

    const listed = await runCli(['approvals', 'list', '--data-dir', dataDir, '--status', 'pending']);
    expect(listed.stdout).toContain(id!);
    expect(listed.stdout).toContain('/usr/bin/sum data.txt');

    const granted = await runCli(['approvals', 'grant', id!, '--data-dir', dataDir]);
    expect(granted.code, granted.stderr).toBe(0);
    const ran = await plain.client.callTool(sum);
    expect(ran.isError, textOf(ran)).toBeFalsy();
    expect((ran.structuredContent as { exitCode: number }).exitCode).toBe(0);

    // Used once: the same call asks again, and a different one was never covered.
    expect((await plain.client.callTool(sum)).isError).toBe(true);
    const other = await plain.client.callTool({ name: 'desktop_run_command', arguments: { argv: ['sum', '-s', 'data.txt'] } });
    expect(textOf(other)).toMatch(/approvals grant apr_/);
  });

  it('asks the person at a client that supports elicitation: yes runs it once, no refuses', async () => {
    const answers: boolean[] = [true, false];
    const asked: string[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--root', root, '--data-dir', dataDir, '--profile', profile],
      env: { ...(process.env as Record<string, string>), IRONCODE_API_KEY: key, IRONCODE_LOG_LEVEL: 'warn' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'asking-client', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push(String(request.params.message));
      return { action: 'accept', content: { approve: answers.shift() ?? false } };
    });
    await client.connect(transport);
    try {
      const yes = await client.callTool({ name: 'desktop_run_command', arguments: { argv: ['shuf', '-n', '1', 'data.txt'] } });
      expect(yes.isError, textOf(yes)).toBeFalsy();
      expect((yes.structuredContent as { stdout: string }).stdout).toBe('one\n');
      expect(asked[0]).toMatch(/shuf -n 1 data\.txt/);
      const no = await client.callTool({ name: 'desktop_run_command', arguments: { argv: ['shuf', '-n', '1', 'data.txt'] } });
      expect(no.isError).toBe(true);
      expect(asked).toHaveLength(2);
    } finally {
      await client.close();
    }
    const events = await runCli(['audit', 'tail', '--data-dir', dataDir, '--action', 'approval.*', '--json', '--limit', '100']);
    const records = events.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; reason: string | null });
    expect(records.some((r) => r.action === 'approval.grant' && /answered yes at the MCP client \(asking-client\)/.test(r.reason ?? ''))).toBe(true);
    expect(records.some((r) => r.action === 'approval.deny')).toBe(true);
    expect(records.some((r) => r.action === 'approval.use')).toBe(true);
    expect((await runCli(['audit', 'verify', '--data-dir', dataDir])).code).toBe(0);
  });

  it('never asks about what the profile does not list', async () => {
    const refused = await plain.client.callTool({ name: 'desktop_run_command', arguments: { command: 'cat /etc/shadow' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).not.toMatch(/approval/);
  });
});
