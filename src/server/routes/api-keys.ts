import { z } from 'zod';
import { parseDuration } from '../../core/index.js';
import type { ServerDeps } from '../deps.js';
import { defineRoute, idParam } from '../route.js';

export function apiKeyRoutes({ identity }: ServerDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/api-keys',
      tag: 'api-keys',
      summary: 'List API keys (one’s own, or all with api-keys:read)',
      auth: 'required',
      handler: async ({ principal, meta }) => ({ api_keys: await identity.apiKeys.list(principal, meta) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api-keys',
      tag: 'api-keys',
      summary: 'Create an API key; the key is in the response once and never again',
      auth: 'required',
      status: 201,
      body: z.strictObject({
        name: z.string().min(1).max(100),
        roles: z.array(z.string()).max(16).default([]),
        permissions: z.array(z.string()).max(64).default([]),
        expires_in: z.string().regex(/^\d+[smhdw]$/, 'a duration such as 30d, 12h or 90m').optional(),
        ip_allowlist: z.array(z.string()).max(64).default([]),
        user_id: z.string().max(80).optional(),
        /** A key for a service that acts for no user (needs api-keys:create). */
        service: z.boolean().default(false),
      }),
      async handler({ principal, body, meta }) {
        const { key, view } = await identity.apiKeys.create(
          principal,
          {
            name: body.name,
            roles: body.roles,
            permissions: body.permissions,
            ipAllowlist: body.ip_allowlist,
            service: body.service,
            ...(body.expires_in === undefined ? {} : { expiresInSeconds: parseDuration(body.expires_in) }),
            ...(body.user_id === undefined ? {} : { userId: body.user_id }),
          },
          meta,
        );
        return { key, api_key: view };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api-keys/:id',
      tag: 'api-keys',
      summary: 'Revoke an API key',
      auth: 'required',
      params: idParam,
      handler: ({ principal, params, meta }) => identity.apiKeys.revoke(principal, params.id, meta),
    }),
  ];
}
