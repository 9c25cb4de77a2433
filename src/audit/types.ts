import type { Clock } from '../core/index.js';

export const AUDIT_DECISIONS = ['allowed', 'denied', 'failed'] as const;
export type AuditDecision = (typeof AUDIT_DECISIONS)[number];

export interface AuditEventInput {
  /** Principal id, e.g. 'usr_…', 'key_…', 'anonymous', 'cli'. */
  principal: string;
  /** 'user' | 'api-key' | 'service' | 'local-operator' | 'anonymous' | 'system'. */
  principalKind: string;
  /** e.g. 'auth.login', 'api-key.create', 'policy.decide'. */
  action: string;
  /** e.g. 'user:usr_…', 'api-key:key_…', '*'. */
  resource: string;
  decision: AuditDecision;
  reason?: string | undefined;
  /** Redacted before storing. */
  args?: unknown;
  /** A short summary, redacted too. */
  result?: unknown;
  requestId?: string | undefined;
  ip?: string | undefined;
}

export interface AuditRecord {
  seq: number;
  id: string;
  /** Milliseconds since the epoch, taken when `append` was called. */
  time: number;
  principal: string;
  principalKind: string;
  action: string;
  resource: string;
  decision: AuditDecision;
  reason: string | null;
  /** As stored: redacted, JSON round-tripped; `null` when none was given. */
  args: unknown;
  result: unknown;
  requestId: string | null;
  ip: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  principal?: string;
  /** Exact, or a prefix ending in '*' like 'auth.*'. */
  action?: string;
  decision?: AuditDecision;
  /** Events at or after this time (ms). */
  since?: number;
  /** Events before this time (ms, exclusive), so consecutive windows never overlap. */
  until?: number;
  /** Keyset paging: events with a smaller seq. */
  beforeSeq?: number;
  /** Keyset paging: events with a larger seq. */
  afterSeq?: number;
  /** Default 100; anything above 1000 is read as 1000. */
  limit?: number;
  /** By seq; default 'desc' (newest first). */
  order?: 'asc' | 'desc';
}

export interface AuditLog {
  /** Resolves only after the batch holding the event is committed; rejects if that batch failed. */
  append(event: AuditEventInput): Promise<AuditRecord>;
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /** Resolves once every event appended before the call has been written (or has failed). */
  flush(): Promise<void>;
  /** Waits for queued events, then rejects later appends. Leaves the store open: it is the caller's. */
  close(): Promise<void>;
}

export interface AuditLogOptions {
  /** HMAC-SHA256 key, at least 32 bytes (see `loadAuditKey`). */
  key: Buffer;
  clock?: Clock;
  /** Most events one transaction writes; default 512. */
  maxBatch?: number;
  /** Called after each committed batch, for metrics. */
  onCommit?: (events: number, durationMs: number) => void;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows whose sequence, link and HMAC were checked and found good. */
  checked: number;
  /** The last seq found good (0 when none). */
  lastSeq: number;
  /** Everything before this seq is verified; this one is missing, altered or unaccounted for. */
  firstBadSeq?: number;
  problem?: string;
}
