/**
 * MCP over Streamable HTTP, for the Fastify route at /mcp. Authentication, Host and
 * Origin checks and rate limits happen in the route before a request gets here; this
 * module serves the protocol:
 * - 2026-07-28 clients through the SDK's per-request handler (stateless by design);
 * - 2025-era clients (every v1 SDK client, the MCP Inspector) through sessionful
 *   transports, so their cancellations reach the running call. The SDK's stateless
 *   fallback would start a fresh server for the cancel notification and the call would
 *   run on. A session belongs to the principal that opened it; another principal
 *   using its id gets 404, as if it did not exist.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { createMcpHandler, isInitializeRequest, isLegacyRequest, type AuthInfo } from '@modelcontextprotocol/server';
import { UnauthenticatedError } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import { createMcpServerFactory, type McpServerOptions } from './server-factory.js';

export interface McpHttpOptions extends Omit<McpServerOptions, 'principal' | 'via' | 'ip'> {
  /** Open 2025-era sessions at most, over all principals, and per principal. */
  maxSessions?: number;
  maxSessionsPerPrincipal?: number;
  /** A 2025-era session unused this long is closed. */
  sessionIdleMs?: number;
}

export interface McpHttpEndpoint {
  /** Serves one authenticated request; writes the response itself. */
  handle(req: IncomingMessage, res: ServerResponse, body: unknown, caller: { principal: Principal; ip: string }): Promise<void>;
  readonly sessionCount: number;
  close(): Promise<void>;
}

interface CallerAuth extends AuthInfo {
  extra: { principal: Principal; ip: string };
}

interface LegacySession {
  transport: NodeStreamableHTTPServerTransport;
  owner: string;
  lastUsed: number;
}

export function createMcpHttpEndpoint(options: McpHttpOptions): McpHttpEndpoint {
  const factory = createMcpServerFactory({
    ...options,
    via: 'mcp-http',
    principal: (ctx) => {
      const principal = (ctx.http?.authInfo as CallerAuth | undefined)?.extra.principal;
      // The route authenticates every request; a request without a caller never reaches here.
      return principal === undefined ? Promise.reject(new UnauthenticatedError()) : Promise.resolve(principal);
    },
    ip: (ctx) => (ctx.http?.authInfo as CallerAuth | undefined)?.extra.ip,
  });
  const modern = createMcpHandler(factory, { legacy: 'reject', onerror: (error) => options.logger.debug({ err: error }, 'MCP HTTP error') });
  const modernNode = toNodeHandler(modern);
  const sessions = new Map<string, LegacySession>();
  const maxSessions = options.maxSessions ?? 1000;
  const perPrincipal = options.maxSessionsPerPrincipal ?? 32;
  const idleMs = options.sessionIdleMs ?? 30 * 60_000;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, session] of sessions) {
      if (now - session.lastUsed > idleMs) {
        sessions.delete(id);
        void session.transport.close();
      }
    }
  }, Math.min(idleMs, 60_000));
  sweep.unref();

  const jsonError = (res: ServerResponse, status: number, message: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
  };

  const legacy = async (req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown, auth: CallerAuth): Promise<void> => {
    const owner = auth.extra.principal.id;
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const session = sessions.get(sid);
      if (session === undefined || session.owner !== owner) return jsonError(res, 404, 'Session not found; initialize a new one');
      session.lastUsed = Date.now();
      if (req.method === 'DELETE') sessions.delete(sid);
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) return jsonError(res, 400, 'Bad Request: an Mcp-Session-Id header is required (or initialize a session)');
    if (sessions.size >= maxSessions) return jsonError(res, 503, `the server holds ${maxSessions} MCP sessions already; close one or retry later`);
    const own = [...sessions.values()].filter((session) => session.owner === owner).length;
    if (own >= perPrincipal) return jsonError(res, 429, `${auth.extra.principal.name} already has ${own} MCP sessions open; close one (DELETE /mcp) first`);
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, owner, lastUsed: Date.now() });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await (await factory({ era: 'legacy', authInfo: auth })).connect(transport);
    return transport.handleRequest(req, res, body);
  };

  return {
    get sessionCount() {
      return sessions.size;
    },
    async handle(req, res, body, caller) {
      const auth: CallerAuth = {
        token: 'verified-by-ironcode',
        clientId: caller.principal.id,
        scopes: [],
        // The SDK wants an expiry; the route authenticated this very request, so a minute is plenty.
        expiresAt: Math.floor(Date.now() / 1000) + 60,
        extra: { principal: caller.principal, ip: caller.ip },
      };
      const raw = Object.assign(req, { auth });
      if (typeof req.headers['mcp-session-id'] === 'string' || (await isLegacyRequest(await toWebRequest(req, body), body))) {
        return legacy(raw, res, body, auth);
      }
      return modernNode(raw, res, body);
    },
    async close() {
      clearInterval(sweep);
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map((session) => session.transport.close()));
      await modern.close();
    },
  };
}
