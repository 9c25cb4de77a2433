import { sql } from 'kysely';
import { z } from 'zod';
import { ValidationError } from '../core/index.js';
import type { Store } from '../store/index.js';
import { recordOf } from './event-record.js';
import { AUDIT_DECISIONS, type AuditQuery, type AuditRecord } from './types.js';

export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 1000;

const millis = z.number().int().min(0);
const seq = z.number().int().min(0);

/** The accepted shape of an AuditQuery; unknown keys are refused so a typo never widens a filter. */
export const auditQuerySchema = z.strictObject({
  principal: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  decision: z.enum(AUDIT_DECISIONS).optional(),
  since: millis.optional(),
  until: millis.optional(),
  beforeSeq: seq.optional(),
  afterSeq: seq.optional(),
  limit: z.number().int().min(1).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

/** Reads events matching every given filter, ordered by seq. Needs no key: reading is not verifying. */
export async function queryAuditEvents(store: Store, query: AuditQuery): Promise<AuditRecord[]> {
  const parsed = auditQuerySchema.safeParse(query);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.') || '(query)', message: issue.message }));
    throw new ValidationError(`invalid audit query: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, issues);
  }
  const q = parsed.data;
  let select = store.db.selectFrom('audit_events').selectAll();
  if (q.principal !== undefined) select = select.where('principal', '=', q.principal);
  if (q.action !== undefined) {
    if (q.action.endsWith('*')) {
      const prefix = q.action.slice(0, -1);
      // substr equality rather than LIKE: LIKE ignores case in SQLite and treats _ and %
      // as wildcards, so 'auth.*' would behave differently on the two databases.
      if (prefix !== '') select = select.where(sql<string>`substr(${sql.ref('action')}, 1, ${sql.lit([...prefix].length)})`, '=', prefix);
    } else {
      select = select.where('action', '=', q.action);
    }
  }
  if (q.decision !== undefined) select = select.where('decision', '=', q.decision);
  if (q.since !== undefined) select = select.where('time', '>=', q.since);
  if (q.until !== undefined) select = select.where('time', '<', q.until);
  if (q.beforeSeq !== undefined) select = select.where('seq', '<', q.beforeSeq);
  if (q.afterSeq !== undefined) select = select.where('seq', '>', q.afterSeq);
  const rows = await select
    .orderBy('seq', q.order ?? 'desc')
    .limit(Math.min(q.limit ?? DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT))
    .execute();
  return rows.map(recordOf);
}
