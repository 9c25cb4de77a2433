/**
 * Approvals: what a profile marks `ask` instead of deny waits for a person. The
 * call is refused at once with an approval id (no answer means no); an admin grants
 * it with `ironcode approvals grant ID` or the API, or the person at an MCP client
 * that supports elicitation answers the question. A grant is bound to the principal
 * that asked, to a hash of the exact action and to an expiry, and it is used once.
 *
 * Nobody approves their own request through the API: an agent holding an admin key
 * still cannot wave its own actions through. Every request, decision and use is in
 * the audit log.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ConflictError, ForbiddenError, NotFoundError, PolicyDeniedError, newId, systemClock, type Clock } from '../core/index.js';
import type { AuditSink, Principal, Rbac } from '../identity/index.js';
import type { Decision } from '../policy/index.js';
import type { ApprovalRow, Database } from '../store/index.js';

export const APPROVAL_STATUSES = ['pending', 'granted', 'denied', 'used', 'expired'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** What would happen, as the approver sees it and as the hash binds it. */
export interface ApprovalAction {
  kind: 'command' | 'path' | 'url';
  /** One line: the command as it would run, `write /x/y`, the URL. */
  summary: string;
  /** Everything that makes the action this action (argv, cwd, canonical path …). */
  exact: Record<string, unknown>;
}

export interface ApprovalView {
  id: string;
  principalId: string;
  principalName: string;
  tool: string;
  action: ApprovalAction;
  rule: string;
  reason: string;
  status: ApprovalStatus;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  usedAt: string | null;
}

/** A refusal that a person can lift: carries the approval id to grant. */
export class ApprovalRequiredError extends PolicyDeniedError {
  readonly approvalId: string;
  constructor(decision: Decision, approval: { id: string; expiresAt: number; summary: string }) {
    super(
      decision.rule,
      decision.severity,
      `${decision.reason}. This needs approval: ask an administrator to run \`ironcode approvals grant ${approval.id}\` (the request lapses at ${new Date(approval.expiresAt).toISOString()}), then retry the same call`,
    );
    this.name = 'ApprovalRequiredError';
    this.approvalId = approval.id;
    Object.assign(this.details, { approval: { id: approval.id, expiresAt: new Date(approval.expiresAt).toISOString(), action: approval.summary } });
  }
}

export interface ApprovalsOptions {
  db: Kysely<Database>;
  audit: AuditSink;
  rbac: Rbac;
  clock?: Clock;
  /** How long a request waits for an answer; default one hour. */
  pendingMs?: number;
  /** How long a grant stays usable by default; default 15 minutes. */
  grantMs?: number;
}

export interface Approvals {
  /**
   * Called by a capability when the policy says `ask`: passes (using up a matching
   * grant) or throws ApprovalRequiredError with a pending request's id.
   */
  require(principal: Principal, tool: string, action: ApprovalAction, decision: Decision): Promise<void>;
  grant(actor: Principal, id: string, options?: { forMs?: number }): Promise<ApprovalView>;
  /** The person at the MCP client answered yes to the elicitation for their own request. */
  grantByClient(principal: Principal, id: string, client: string): Promise<ApprovalView>;
  deny(actor: Principal, id: string, options?: { byClient?: string }): Promise<ApprovalView>;
  list(actor: Principal, filter?: { status?: ApprovalStatus; limit?: number }): Promise<ApprovalView[]>;
  get(actor: Principal, id: string): Promise<ApprovalView>;
}

export function actionHash(principalId: string, tool: string, action: ApprovalAction): string {
  return createHash('sha256').update(JSON.stringify([principalId, tool, action.kind, canonical(action.exact)])).digest('hex');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
  }
  return value;
}

export function createApprovals(options: ApprovalsOptions): Approvals {
  const { db, audit, rbac } = options;
  const clock = options.clock ?? systemClock;
  const pendingMs = options.pendingMs ?? 60 * 60_000;
  const grantMs = options.grantMs ?? 15 * 60_000;

  const view = (row: ApprovalRow): ApprovalView => {
    const now = clock.now();
    const lapsed = (row.status === 'pending' || row.status === 'granted') && row.expires_at <= now;
    return {
      id: row.id,
      principalId: row.principal_id,
      principalName: row.principal_name,
      tool: row.tool,
      action: JSON.parse(row.action) as ApprovalAction,
      rule: row.rule,
      reason: row.reason,
      status: lapsed ? 'expired' : (row.status as ApprovalStatus),
      requestedAt: new Date(row.requested_at).toISOString(),
      expiresAt: new Date(row.expires_at).toISOString(),
      decidedBy: row.decided_by,
      decidedAt: row.decided_at === null ? null : new Date(row.decided_at).toISOString(),
      usedAt: row.used_at === null ? null : new Date(row.used_at).toISOString(),
    };
  };

  const load = async (id: string): Promise<ApprovalRow> => {
    const row = await db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`no approval ${id}`, { details: { id } });
    return row;
  };

  const record = (actor: { principal: string; principalKind: string }, action: string, row: ApprovalRow, decision: 'allowed' | 'denied', extra: { reason?: string } = {}) =>
    audit.append({
      ...actor,
      action,
      resource: `approval:${row.id}`,
      decision,
      reason: extra.reason,
      args: { principal: row.principal_id, tool: row.tool, action: (JSON.parse(row.action) as ApprovalAction).summary, rule: row.rule },
    });

  /** Moves a pending, unexpired request to granted or denied; a request decided or lapsed meanwhile is a conflict. */
  const decide = async (row: ApprovalRow, status: 'granted' | 'denied', by: string, expiresAt: number): Promise<ApprovalRow> => {
    const now = clock.now();
    const result = await db
      .updateTable('approvals')
      .set({ status, decided_by: by, decided_at: now, expires_at: expiresAt })
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      const current = view(await load(row.id));
      throw new ConflictError(`approval ${row.id} is ${current.status}, not pending; it can no longer be ${status}`, { details: { id: row.id, status: current.status } });
    }
    return load(row.id);
  };

  const assertNotOwn = (actor: Principal, row: ApprovalRow): void => {
    const own = actor.id === row.principal_id || (actor.userId !== undefined && actor.userId === row.principal_id);
    if (own) throw new ForbiddenError(`${actor.name} cannot decide its own approval request ${row.id}; another administrator must`, 'approvals:decide');
  };

  const actorOf = (principal: Principal) => ({ principal: principal.id, principalKind: principal.kind });

  return {
    async require(principal, tool, action, decision) {
      const hash = actionHash(principal.id, tool, action);
      const now = clock.now();
      const used = await db
        .updateTable('approvals')
        .set({ status: 'used', used_at: now })
        .where('id', '=', (qb) =>
          qb
            .selectFrom('approvals')
            .select('id')
            .where('principal_id', '=', principal.id)
            .where('action_hash', '=', hash)
            .where('status', '=', 'granted')
            .where('expires_at', '>', now)
            .orderBy('decided_at')
            .limit(1),
        )
        .where('status', '=', 'granted')
        .returningAll()
        .executeTakeFirst();
      if (used !== undefined) {
        await record(actorOf(principal), 'approval.use', used, 'allowed');
        return;
      }
      let pending = await db
        .selectFrom('approvals')
        .selectAll()
        .where('principal_id', '=', principal.id)
        .where('action_hash', '=', hash)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (pending === undefined) {
        pending = {
          id: newId('apr'),
          principal_id: principal.id,
          principal_name: principal.name,
          action_hash: hash,
          action: JSON.stringify(action),
          tool,
          rule: decision.rule,
          reason: decision.reason,
          status: 'pending',
          requested_at: now,
          expires_at: now + pendingMs,
          decided_by: null,
          decided_at: null,
          used_at: null,
        };
        await db.insertInto('approvals').values(pending).execute();
        await record(actorOf(principal), 'approval.request', pending, 'denied', { reason: `${decision.rule}: ${decision.reason}` });
      }
      throw new ApprovalRequiredError(decision, { id: pending.id, expiresAt: pending.expires_at, summary: action.summary });
    },

    async grant(actor, id, grantOptions = {}) {
      rbac.authorize(actor, 'approvals:decide');
      const row = await load(id);
      assertNotOwn(actor, row);
      const granted = await decide(row, 'granted', actor.id, clock.now() + (grantOptions.forMs ?? grantMs));
      await record(actorOf(actor), 'approval.grant', granted, 'allowed');
      return view(granted);
    },

    async grantByClient(principal, id, client) {
      const row = await load(id);
      if (row.principal_id !== principal.id) throw new NotFoundError(`no approval ${id}`, { details: { id } });
      const granted = await decide(row, 'granted', `elicitation:${client}`, clock.now() + grantMs);
      await record(actorOf(principal), 'approval.grant', granted, 'allowed', { reason: `answered yes at the MCP client (${client})` });
      return view(granted);
    },

    async deny(actor, id, denyOptions = {}) {
      const row = await load(id);
      if (denyOptions.byClient === undefined) {
        rbac.authorize(actor, 'approvals:decide');
      } else if (row.principal_id !== actor.id) {
        throw new NotFoundError(`no approval ${id}`, { details: { id } });
      }
      const denied = await decide(row, 'denied', denyOptions.byClient === undefined ? actor.id : `elicitation:${denyOptions.byClient}`, row.expires_at);
      await record(actorOf(actor), 'approval.deny', denied, 'denied');
      return view(denied);
    },

    async list(actor, filter = {}) {
      rbac.authorize(actor, 'approvals:read');
      let query = db.selectFrom('approvals').selectAll().orderBy('requested_at', 'desc').limit(Math.min(filter.limit ?? 100, 1000));
      const now = clock.now();
      if (filter.status === 'expired') query = query.where((eb) => eb.or([eb('status', '=', 'expired'), eb.and([eb('status', 'in', ['pending', 'granted']), eb('expires_at', '<=', now)])]));
      else if (filter.status === 'pending' || filter.status === 'granted') query = query.where('status', '=', filter.status).where('expires_at', '>', now);
      else if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      return (await query.execute()).map(view);
    },

    async get(actor, id) {
      rbac.authorize(actor, 'approvals:read');
      return view(await load(id));
    },
  };
}
