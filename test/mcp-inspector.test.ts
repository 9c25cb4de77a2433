import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from './run-cli.js';
import { createApiKey, mcpWorkspace } from './support/mcp.js';
import { startServer, type RunningServer } from './support/server.js';

/**
 * A client nobody here wrote: the MCP Inspector's CLI, listing and calling ironcode's
 * tools over stdio and over Streamable HTTP.
 */
const INSPECTOR = fileURLToPath(new URL('../node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js', import.meta.url));

function inspector(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Inspector 2.x loads undici 8 for proxies, which needs Node 22; the calls here are all to loopback.
  const clean = { ...env };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete clean[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [INSPECTOR, '--cli', ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the MCP Inspector CLI against ironcode', () => {
  const { root, dataDir } = mcpWorkspace();
  const env = { ...process.env, MCP_CATALOG_PATH: path.join(dataDir, '..', 'inspector-catalog.json') };
  let key: string;
  let server: RunningServer;

  beforeAll(async () => {
    writeFileSync(path.join(root, 'hello.txt'), 'hello inspector\n');
    key = await createApiKey(dataDir, 'inspector', ['operator']);
    server = await startServer({ args: ['--root', root] });
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
  });

  // The inspector's own options come first; everything after `--` is the server's command line.
  const stdio = (...options: string[]) => ['-e', 'IRONCODE_LOG_LEVEL=warn', ...options, '--', process.execPath, BIN, 'mcp', '--root', root, '--data-dir', dataDir];

  it('lists the tools over stdio', async () => {
    const result = await inspector(stdio('-e', `IRONCODE_API_KEY=${key}`, '--method', 'tools/list'), env);
    expect(result.code, result.stderr).toBe(0);
    const listed = JSON.parse(result.stdout) as { tools: { name: string }[] };
    expect(listed.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['desktop_read_file', 'desktop_run_command']));
  });

  it('calls a tool over stdio, and sees a refusal as a tool error', async () => {
    const read = await inspector(stdio('-e', `IRONCODE_API_KEY=${key}`, '--method', 'tools/call', '--tool-name', 'desktop_read_file', '--tool-arg', 'path=hello.txt'), env);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ structuredContent: { content: 'hello inspector\n' } });
    const refused = await inspector(stdio('-e', `IRONCODE_API_KEY=${key}`, '--method', 'tools/call', '--tool-name', 'desktop_read_file', '--tool-arg', 'path=/etc/shadow'), env);
    expect(refused.stdout).toMatch(/"isError": ?true/);
    expect(refused.stdout).toMatch(/Refused by the safety policy/);
  });

  it('lists and calls over Streamable HTTP with a bearer key', async () => {
    const httpKey = await createApiKey(server.dataDir, 'inspector-http', ['operator'], server.env);
    const url = `${server.url}/mcp`;
    const header = ['--header', `Authorization: Bearer ${httpKey}`];
    const list = await inspector([url, '--transport', 'http', ...header, '--method', 'tools/list'], env);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { tools: unknown[] }).tools.length).toBeGreaterThan(10);
    const read = await inspector([url, '--transport', 'http', ...header, '--method', 'tools/call', '--tool-name', 'desktop_read_file', '--tool-arg', 'path=hello.txt'], env);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ structuredContent: { content: 'hello inspector\n' } });
    const anonymous = await inspector([url, '--transport', 'http', '--method', 'tools/list'], env);
    expect(anonymous.code).not.toBe(0);
  });
});
