/**
 * MCP clients for end-to-end tests: the official SDK's client, talking to the real
 * `ironcode mcp` process over stdio or to the real server over Streamable HTTP.
 */
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { BIN, runCli } from '../run-cli.js';

export type Negotiation = 'legacy' | 'auto';

/** A fresh workspace root and data directory (outside the root, as a deployment would have it). */
export function mcpWorkspace(): { root: string; dataDir: string } {
  const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-mcp-')));
  const root = path.join(base, 'workspace');
  const dataDir = path.join(base, 'data');
  mkdirSync(root);
  return { root, dataDir };
}

/** Creates an API key with the CLI (as an operator would) and returns it. */
export async function createApiKey(dataDir: string, name: string, roles: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const result = await runCli(['admin', 'create-api-key', '--data-dir', dataDir, '--name', name, ...roles.flatMap((role) => ['--role', role])], { env });
  if (result.code !== 0) throw new Error(`create-api-key failed (${result.code}): ${result.stderr}`);
  const key = result.stdout.trim().split('\n').at(-1) ?? '';
  if (!key.startsWith('ironcode_')) throw new Error(`no key in output: ${result.stdout}`);
  return key;
}

export interface StdioConnection {
  client: Client;
  transport: StdioClientTransport;
  stderr(): string;
  close(): Promise<void>;
}

/** Starts `ironcode mcp` as an MCP client would and connects the SDK client to it. */
export async function connectStdio(options: { root: string; dataDir: string; apiKey?: string; args?: string[]; env?: NodeJS.ProcessEnv; negotiation?: Negotiation }): Promise<StdioConnection> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, IRONCODE_LOG_LEVEL: 'warn', ...options.env })) if (value !== undefined) env[name] = value;
  if (options.apiKey !== undefined) env.IRONCODE_API_KEY = options.apiKey;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--root', options.root, '--data-dir', options.dataDir, ...(options.args ?? [])],
    env,
    stderr: 'pipe',
    cwd: options.root,
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'ironcode-test', version: '1.0.0' }, { versionNegotiation: { mode: options.negotiation ?? 'legacy' } });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

/** Connects the SDK client to a running server's /mcp with a bearer credential. */
export async function connectHttp(url: string, credential: string, negotiation: Negotiation = 'legacy'): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${credential}` } } });
  const client = new Client({ name: 'ironcode-test', version: '1.0.0' }, { versionNegotiation: { mode: negotiation } });
  await client.connect(transport);
  return client;
}

/** The text of a tool result's first content block. */
export function textOf(result: { content?: unknown }): string {
  const content = result.content as { type: string; text?: string }[] | undefined;
  return content?.find((block) => block.type === 'text')?.text ?? '';
}
