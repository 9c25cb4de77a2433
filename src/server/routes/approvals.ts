import { z } from 'zod';
import { IronError, parseDuration } from '../../core/index.js';
import { APPROVAL_STATUSES, type Approvals } from '../../tools/index.js';
import type { ServerDeps } from '../deps.js';
import { defineRoute, idParam } from '../route.js';

/** Approval requests of `ask` rules: an administrator lists them and grants or denies (never their own). */
export function approvalRoutes({ approvals }: ServerDeps) {
  const service = (): Approvals => {
    if (approvals === undefined) throw new IronError('unavailable', 'this server runs without the tool plane, so it has no approvals');
    return approvals;
  };
  return [
    defineRoute({
      method: 'GET',
      url: '/approvals',
      tag: 'approvals',
      summary: 'List approval requests, newest first',
      auth: 'required',
      permission: 'approvals:read',
      query: z.strictObject({ status: z.enum(APPROVAL_STATUSES).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
      handler: async ({ principal, query }) => ({
        approvals: await service().list(principal, { ...(query.status === undefined ? {} : { status: query.status }), ...(query.limit === undefined ? {} : { limit: query.limit }) }),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/approvals/:id',
      tag: 'approvals',
      summary: 'One approval request',
      auth: 'required',
      permission: 'approvals:read',
      params: idParam,
      handler: ({ principal, params }) => service().get(principal, params.id),
    }),
    defineRoute({
      method: 'POST',
      url: '/approvals/:id/grant',
      tag: 'approvals',
      summary: 'Grant a pending request: its principal may then do exactly that action once, before the grant expires',
      auth: 'required',
      permission: 'approvals:decide',
      params: idParam,
      body: z.strictObject({ for: z.string().regex(/^\d+[smhdw]$/, 'a duration such as 15m or 1h').optional() }).default({}),
      handler: ({ principal, params, body }) => service().grant(principal, params.id, body.for === undefined ? {} : { forMs: parseDuration(body.for) * 1000 }),
    }),
    defineRoute({
      method: 'POST',
      url: '/approvals/:id/deny',
      tag: 'approvals',
      summary: 'Deny a pending request',
      auth: 'required',
      permission: 'approvals:decide',
      params: idParam,
      handler: ({ principal, params }) => service().deny(principal, params.id),
    }),
  ];
}
