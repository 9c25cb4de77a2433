import { z } from 'zod';
import type { ServerDeps } from '../deps.js';
import { defineRoute } from '../route.js';

const time = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), 'an ISO 8601 time such as 2026-11-22T10:00:00Z')
  .transform((value) => Date.parse(value));

export function auditRoutes({ audit, auditVerify }: ServerDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/audit/events',
      tag: 'audit',
      summary: 'Read the audit log, newest first, filtered by principal, action, decision and time',
      auth: 'required',
      permission: 'audit:read',
      query: z.strictObject({
        principal: z.string().max(128).optional(),
        action: z.string().max(128).optional(),
        decision: z.enum(['allowed', 'denied', 'failed']).optional(),
        since: time.optional(),
        until: time.optional(),
        before: z.coerce.number().int().positive().optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
      async handler({ query }) {
        const events = await audit.query({
          ...(query.principal === undefined ? {} : { principal: query.principal }),
          ...(query.action === undefined ? {} : { action: query.action }),
          ...(query.decision === undefined ? {} : { decision: query.decision }),
          ...(query.since === undefined ? {} : { since: query.since }),
          ...(query.until === undefined ? {} : { until: query.until }),
          ...(query.before === undefined ? {} : { beforeSeq: query.before }),
          limit: query.limit,
          order: 'desc',
        });
        const last = events.at(-1);
        return {
          events: events.map((event) => ({ ...event, time: new Date(event.time).toISOString() })),
          next: events.length === query.limit && last !== undefined ? last.seq : null,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/audit/verify',
      tag: 'audit',
      summary: 'Verify the hash chain of the whole audit log',
      auth: 'required',
      permission: 'audit:verify',
      handler: () => auditVerify(),
    }),
  ];
}
