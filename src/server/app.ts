import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IronError, UnauthenticatedError, newId } from '../core/index.js';
import type { Principal, RequestMeta } from '../identity/index.js';
import type { ServerDeps } from './deps.js';
import { openApiDocument } from './openapi.js';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.js';
import { defineRoute, parsePart } from './route.js';
import type { RouteSpec } from './route.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { registerMcpRoutes } from './routes/mcp.js';
import { roleRoutes } from './routes/roles.js';
import { userRoutes } from './routes/users.js';

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

function requestMeta(request: FastifyRequest): RequestMeta {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, requestId: request.id, ...(typeof agent === 'string' ? { userAgent: agent } : {}) };
}

/**
 * The HTTP server: one Fastify instance whose routes are data (`RouteSpec`), wrapped
 * once with rate limits, authentication, the route's permission, schema validation
 * and problem+json errors. Every refusal on the way is audited.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, identity, audit, metrics, rateLimiter } = deps;
  const limits = config.server.rateLimit;
  const windowMs = limits.windowSeconds * 1000;

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Requests are counted in metrics and recorded in the audit log; a log line each would only be noise.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    // X-Forwarded-For is believed only from these peers; with none, the socket address is the client.
    trustProxy: config.server.trustedProxies.length > 0 ? [...config.server.trustedProxies] : false,
    genReqId: () => newId('req'),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 128 },
  });

  // The API speaks JSON only. Fastify would hand a text/plain body to the route as a
  // string, whose refusal ("expected object, received string") hides the real mistake.
  app.removeContentTypeParser('text/plain');

  await app.register(helmet, {
    // An API serves no documents: nothing may load, frame or submit anywhere.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // Helmet's default SAMEORIGIN would contradict frame-ancestors 'none' for browsers that only read X-Frame-Options.
    frameguard: { action: 'deny' },
  });
  if (config.server.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...config.server.corsOrigins],
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type'],
      exposedHeaders: ['x-request-id', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after'],
      maxAge: 600,
    });
  }

  async function enforceLimit(request: FastifyRequest, reply: FastifyReply, scope: 'ip' | 'principal' | 'auth', key: string, limit: number, principal?: Principal): Promise<void> {
    const decision = await rateLimiter.hit(`${scope}:${key}`, limit, windowMs);
    const resetSeconds = Math.ceil(decision.resetMs / 1000);
    void reply.header('ratelimit-limit', decision.limit).header('ratelimit-remaining', decision.remaining).header('ratelimit-reset', resetSeconds);
    if (decision.allowed) return;
    metrics.rateLimited.inc({ scope });
    void reply.header('retry-after', resetSeconds);
    // One record per key and window: a flood must not become a flood of audit rows.
    if (decision.firstRefusal) {
      await audit.append({
        principal: principal?.id ?? 'anonymous',
        principalKind: principal?.kind ?? 'anonymous',
        action: 'http.rate-limit',
        resource: `${request.method} ${request.routeOptions.url ?? request.url}`,
        decision: 'denied',
        reason: `more than ${limit} requests per ${limits.windowSeconds} s (${scope} limit)`,
        requestId: request.id,
        ip: request.ip,
      });
    }
    throw new IronError('rateLimited', `rate limit exceeded: at most ${limit} requests per ${limits.windowSeconds} s; retry in ${resetSeconds} s`, {
      details: { retryAfterSeconds: resetSeconds, scope },
    });
  }

  async function authenticate(request: FastifyRequest, reply: FastifyReply, meta: RequestMeta): Promise<Principal> {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (match?.[1] === undefined) {
      metrics.authFailures.inc({ kind: header === undefined ? 'missing' : 'malformed' });
      // Refused before identity sees it, so recorded here: a probe without a usable credential is a refusal like any other.
      await audit.append({
        principal: 'anonymous',
        principalKind: 'anonymous',
        action: 'auth.token',
        resource: `${request.method} ${request.routeOptions.url ?? request.url}`,
        decision: 'denied',
        reason: header === undefined ? 'no Authorization header' : 'Authorization header is not "Bearer <credential>" (or the credential is over 4096 characters)',
        requestId: request.id,
        ip: request.ip,
      });
      // RFC 6750 §3.1: a request that presented no credential gets the challenge without an error code.
      if (header === undefined) void reply.header('www-authenticate', 'Bearer realm="ironcode"');
      throw new UnauthenticatedError('send "Authorization: Bearer <access token or API key>"');
    }
    try {
      return await identity.authenticate(match[1], meta);
    } catch (error) {
      metrics.authFailures.inc({ kind: match[1].startsWith('ironcode_') ? 'api-key' : 'token' });
      throw error;
    }
  }

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id).header('cache-control', 'no-store');
    await enforceLimit(request, reply, 'ip', request.ip, limits.perIp);
  });

  // Node's server.close() ends only the connections idle at that moment; a keep-alive
  // connection whose request was still running stays open after its answer until
  // keepAliveTimeout (72 s), and close() with it. Answers sent while closing say
  // "Connection: close", so shutdown waits for the in-flight requests and no longer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    // Open MCP streams (a 2025-era client's GET stream lives as long as its session) would hold close() forever.
    await deps.mcp?.close();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler(async (error, request, reply) => {
    const problem = toProblem(error, { instance: request.url, requestId: request.id });
    if (problem.status >= 500) request.log.error({ err: error, requestId: request.id }, 'request failed');
    if (problem.code === 'IRON_PAYLOAD_TOO_LARGE') {
      await audit
        .append({ principal: 'anonymous', principalKind: 'anonymous', action: 'http.body-too-large', resource: `${request.method} ${request.url}`.slice(0, 200), decision: 'denied', reason: `body over ${config.server.bodyLimitBytes} bytes`, requestId: request.id, ip: request.ip })
        .catch(() => undefined);
    }
    if (problem.status === 401 && !reply.hasHeader('www-authenticate')) void reply.header('www-authenticate', 'Bearer realm="ironcode", error="invalid_token"');
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
  });

  app.setNotFoundHandler((request, reply) => {
    const problem = toProblem(new IronError('notFound', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`), { instance: request.url, requestId: request.id });
    return reply.code(404).type(PROBLEM_CONTENT_TYPE).send(problem);
  });

  const routes: RouteSpec[] = [...authRoutes(deps), ...userRoutes(deps), ...apiKeyRoutes(deps), ...roleRoutes(deps), ...auditRoutes(deps), ...approvalRoutes(deps), ...healthRoutes(deps)];
  routes.push(
    defineRoute({
      method: 'GET',
      url: '/openapi.json',
      tag: 'health',
      summary: 'This document',
      auth: 'none',
      handler: () => Promise.resolve(openApiDocument(routes, { version: deps.version })),
    }),
  );

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: async (request, reply) => {
        const meta = requestMeta(request);
        if (route.authLimited === true) await enforceLimit(request, reply, 'auth', request.ip, limits.authPerIp);
        let principal: Principal | undefined;
        if (route.auth === 'required') {
          principal = await authenticate(request, reply, meta);
          await enforceLimit(request, reply, 'principal', principal.id, limits.perPrincipal, principal);
          if (route.permission !== undefined) {
            await identity.authorize(principal, route.permission, { action: 'http.authorize', resource: `${request.method} ${route.url}` }, meta);
          }
        }
        const result = await route.handler({
          body: parsePart(route.body, request.body, 'body'),
          query: parsePart(route.query, request.query, 'query'),
          params: parsePart(route.params, request.params, 'params'),
          principal: principal as Principal,
          meta,
          request,
          reply,
        });
        if (route.status === 204) return reply.code(204).send();
        return reply.code(route.status ?? 200).send(result);
      },
    });
  }
  if (deps.mcp !== undefined) {
    registerMcpRoutes(app, deps, deps.mcp, {
      authenticate,
      limitPrincipal: (request, reply, principal) => enforceLimit(request, reply, 'principal', principal.id, limits.perPrincipal, principal),
      meta: requestMeta,
    });
  }
  return app;
}
