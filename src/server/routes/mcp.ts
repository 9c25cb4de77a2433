import { localhostAllowedHostnames, validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IronError, isIronError } from '../../core/index.js';
import type { Principal, RequestMeta } from '../../identity/index.js';
import type { McpHttpEndpoint } from '../../mcp/index.js';
import type { ServerDeps } from '../deps.js';

export const MCP_PATH = '/mcp';
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource/mcp';

interface McpRouteHelpers {
  authenticate(request: FastifyRequest, reply: FastifyReply, meta: RequestMeta): Promise<Principal>;
  limitPrincipal(request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<void>;
  meta(request: FastifyRequest): RequestMeta;
}

/**
 * Streamable HTTP at /mcp, with the same bearer authentication (API key or access
 * token, checked on every request), rate limits and audit as the rest of the API, plus
 * the Host and Origin checks MCP asks of local servers (DNS rebinding) and RFC 9728
 * protected-resource metadata so clients can discover how to authenticate.
 */
export function registerMcpRoutes(app: FastifyInstance, deps: ServerDeps, endpoint: McpHttpEndpoint, helpers: McpRouteHelpers): void {
  const { config } = deps;
  const wildcard = config.server.host === '0.0.0.0' || config.server.host === '::';
  const allowedHosts = [...new Set([...localhostAllowedHostnames(), ...(wildcard ? [] : [bracketed(config.server.host)]), ...config.server.allowedHosts.map(bracketed)])];
  const allowedOrigins = [...new Set([...localhostAllowedHostnames(), ...config.server.corsOrigins.map((origin) => new URL(origin).hostname)])];

  const resourceUrl = (request: FastifyRequest, path: string): string => `${request.protocol}://${request.host}${path}`;

  app.get(RESOURCE_METADATA_PATH, async (request) => ({
    resource: resourceUrl(request, MCP_PATH),
    resource_name: 'ironcode',
    bearer_methods_supported: ['header'],
    // ironcode issues its own credentials: API keys (`ironcode admin create-api-key`) and access tokens from POST /auth/login.
    resource_documentation: resourceUrl(request, '/openapi.json'),
  }));

  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: MCP_PATH,
    handler: async (request, reply) => {
      const host = validateHostHeader(request.headers.host, allowedHosts);
      if (!host.ok) throw new IronError('forbidden', `${host.message}; add the name to server.allowedHosts if this server is meant to be reached by it`);
      const origin = validateOriginHeader(request.headers.origin, allowedOrigins);
      if (!origin.ok) throw new IronError('forbidden', `${origin.message}; browser origins must be listed in server.corsOrigins`);
      const meta = helpers.meta(request);
      let principal: Principal;
      try {
        principal = await helpers.authenticate(request, reply, meta);
      } catch (error) {
        if (isIronError(error) && error.kind === 'unauthenticated') {
          void reply.header('www-authenticate', `Bearer realm="ironcode", resource_metadata="${resourceUrl(request, RESOURCE_METADATA_PATH)}"`);
        }
        throw error;
      }
      await helpers.limitPrincipal(request, reply, principal);
      // The SDK writes the response itself: keep the headers the hooks set (helmet, request id, rate limits).
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
      reply.hijack();
      await endpoint.handle(request.raw, reply.raw, request.body, { principal, ip: request.ip });
    },
  });
}

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
