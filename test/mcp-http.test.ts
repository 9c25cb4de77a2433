import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { connectHttp, createApiKey, mcpWorkspace, textOf } from './support/mcp.js';
import { call, login, startServer, type RunningServer } from './support/server.js';

/** Raw HTTP, for headers fetch will not let a caller forge (Host). */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL('/mcp', url);
    const req = httpRequest(target, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

/** /mcp on the real `ironcode serve`, with the official SDK client in both protocol eras. */
describe('ironcode serve: MCP over Streamable HTTP', () => {
  const { root } = mcpWorkspace();
  let server: RunningServer;
  let operatorKey: string;
  let viewerKey: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    writeFileSync(path.join(root, 'notes.txt'), 'hello over http\n');
    writeFileSync(path.join(root, '.env'), 'SECRET_TOKEN=abc123\n');
    server = await startServer({ args: ['--root', root] });
    operatorKey = await createApiKey(server.dataDir, 'agent', ['operator'], server.env);
    viewerKey = await createApiKey(server.dataDir, 'reader', ['viewer'], server.env);
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await server?.dispose();
  });

  const connect = async (credential: string, negotiation: 'legacy' | 'auto') => {
    const client = await connectHttp(server.url, credential, negotiation);
    clients.push(client);
    return client;
  };

  describe.each(['legacy', 'auto'] as const)('with a %s client', (negotiation) => {
    it('lists tools by permission and calls them', async () => {
      const operator = await connect(operatorKey, negotiation);
      const viewer = await connect(viewerKey, negotiation);
      const operatorTools = (await operator.listTools()).tools.map((t) => t.name);
      const viewerTools = (await viewer.listTools()).tools.map((t) => t.name);
      expect(operatorTools).toContain('desktop_write_file');
      expect(viewerTools).toContain('desktop_read_file');
      expect(viewerTools).not.toContain('desktop_write_file');

      const read = await viewer.callTool({ name: 'desktop_read_file', arguments: { path: 'notes.txt' } });
      expect(read.isError).toBeFalsy();
      expect(read.structuredContent).toMatchObject({ content: 'hello over http\n' });

      const refused = await viewer.callTool({ name: 'desktop_read_file', arguments: { path: '.env' } });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/rule path\.sensitive/);
      expect(textOf(refused)).not.toContain('abc123');
    });

    it('streams progress and cancels the running command', async () => {
      const operator = await connect(operatorKey, negotiation);
      const cancelledRecords = async () => {
        const tail = await runCli(['audit', 'tail', '--data-dir', server.dataDir, '--action', 'tool.result', '--decision', 'failed', '--json'], { env: server.env });
        return tail.stdout.split('\n').filter((line) => line.includes('IRON_CANCELLED')).length;
      };
      const before = await cancelledRecords();
      const progress: number[] = [];
      const controller = new AbortController();
      const started = Date.now();
      const pending = operator.callTool(
        { name: 'desktop_run_command', arguments: { argv: ['sleep', '20'] } },
        { onprogress: (p) => progress.push(p.progress), signal: controller.signal, timeout: 60_000 },
      );
      await new Promise((resolve) => setTimeout(resolve, 2300));
      controller.abort('stop');
      await expect(pending).rejects.toThrow();
      expect(progress.length).toBeGreaterThanOrEqual(1);
      // The cancellation reached the server: its audit record says so well before sleep would have ended.
      let cancelled = false;
      while (!cancelled && Date.now() - started < 15_000) {
        cancelled = (await cancelledRecords()) > before;
        if (!cancelled) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(cancelled).toBe(true);
      expect(Date.now() - started).toBeLessThan(15_000);
    });
  });

  it('accepts an access token from a login as well as an API key', async () => {
    const tokens = await login(server, server.admin.username, server.admin.password);
    const admin = await connect(tokens.access_token, 'legacy');
    const names = (await admin.listTools()).tools.map((t) => t.name);
    expect(names).toContain('desktop_run_command');
  });

  it('answers an unauthenticated request 401 with a pointer to the protected-resource metadata', async () => {
    const response = await call(server, 'POST', '/mcp', { rawBody: INITIALIZE, headers: { accept: 'application/json, text/event-stream' } });
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${server.url}/.well-known/oauth-protected-resource/mcp`);
    const metadata = await call(server, 'GET', '/.well-known/oauth-protected-resource/mcp');
    expect(metadata.status).toBe(200);
    expect(metadata.body).toMatchObject({ resource: `${server.url}/mcp`, bearer_methods_supported: ['header'] });
  });

  it('refuses a foreign Host or Origin (DNS rebinding) before authenticating', async () => {
    const auth = { authorization: `Bearer ${operatorKey}` };
    const foreignHost = await rawPost(server.url, { ...auth, host: 'evil.example' }, INITIALIZE);
    expect(foreignHost.status).toBe(403);
    expect(foreignHost.body).toMatch(/evil\.example/);
    const foreignOrigin = await rawPost(server.url, { ...auth, origin: 'http://evil.example' }, INITIALIZE);
    expect(foreignOrigin.status).toBe(403);
    const localOrigin = await rawPost(server.url, { ...auth, origin: 'http://localhost:3000' }, INITIALIZE);
    expect(localOrigin.status).toBe(200);
  });

  it('keeps a 2025-era session to the principal that opened it', async () => {
    const opened = await rawPost(server.url, { authorization: `Bearer ${operatorKey}` }, INITIALIZE);
    expect(opened.status).toBe(200);
    const sessions = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(new URL('/mcp', server.url), { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${operatorKey}` } }, (res) => {
        res.resume();
        resolve(String(res.headers['mcp-session-id'] ?? ''));
      });
      req.on('error', reject);
      req.end(INITIALIZE);
    });
    expect(sessions).not.toBe('');
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    const stolen = await rawPost(server.url, { authorization: `Bearer ${viewerKey}`, 'mcp-session-id': sessions, 'mcp-protocol-version': '2025-06-18' }, list);
    expect(stolen.status).toBe(404);
  });

  it('leaves an audit log that verifies, with the MCP calls in it', async () => {
    const tail = await runCli(['audit', 'tail', '--data-dir', server.dataDir, '--action', 'tool.*', '--limit', '500', '--json'], { env: server.env });
    const events = tail.stdout.trim().split('\n').map((line) => JSON.parse(line) as { resource: string; decision: string });
    expect(events.filter((e) => e.resource === 'tool:desktop.read_file' && e.decision === 'allowed').length).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.resource === 'tool:desktop.read_file' && e.decision === 'denied').length).toBeGreaterThanOrEqual(2);
    const verify = await runCli(['audit', 'verify', '--data-dir', server.dataDir], { env: server.env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('stops cleanly with clients connected', async () => {
    expect(await server.stop()).toBe(0);
  });
});
