import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Principal } from '../identity/index.js';
import { createMcpServerFactory, type McpServerOptions } from './server-factory.js';

export interface StdioServeOptions extends Omit<McpServerOptions, 'principal' | 'via' | 'ip'> {
  /** The stdio principal, authenticated again for every request (a revoked key stops working mid-session). */
  principal(): Promise<Principal>;
  input?: NodeJS.ReadableStream;
}

export interface StdioMcpServer {
  /** Settles when the client closes standard input (the connection is over) or `close()` is called. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * MCP over stdio. stdout is the protocol channel: ironcode logs to stderr only. When
 * the client closes standard input, in-flight calls are cancelled (the SDK aborts
 * their signals) and `closed` settles so the caller can release what it holds.
 */
export function serveMcpOverStdio(options: StdioServeOptions): StdioMcpServer {
  const factory = createMcpServerFactory({ ...options, via: 'mcp-stdio', principal: () => options.principal() });
  const handle = serveStdio(factory, { onerror: (error) => options.logger.warn({ err: error }, 'MCP stdio error') });
  const input = options.input ?? process.stdin;
  let finish!: () => void;
  const closed = new Promise<void>((resolve) => {
    finish = resolve;
  });
  input.once('end', finish);
  input.once('close', finish);
  return {
    closed,
    async close() {
      await handle.close();
      finish();
    },
  };
}
