import { z } from 'zod';
import { ValidationError, newId, type Clock } from '../core/index.js';
import type { AuditEventRow, AuditEventsTable } from '../store/index.js';
import type { ChainedContent } from './chain.js';
import { cutChars, redact, scrubText } from './redact.js';
import { AUDIT_DECISIONS, type AuditDecision, type AuditEventInput, type AuditRecord } from './types.js';

/** An event ready for the chain: everything but seq, prev_hash and hash, plus the stored JSON texts (args/result are their parses, what the hash covers). */
export type PreparedEvent = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'> & { argsText: string; resultText: string | null };

const eventSchema = z.object({
  principal: z.string().min(1),
  principalKind: z.string().min(1),
  action: z.string().min(1),
  resource: z.string().min(1),
  decision: z.enum(AUDIT_DECISIONS),
  reason: z.string().nullish(),
  requestId: z.string().nullish(),
  ip: z.string().nullish(),
});

// Fields such as the resource often carry what a caller typed (a username on a failed
// login); they are cut, not refused, because refusing would lose the event.
const LIMITS = { principal: 256, principalKind: 64, action: 256, resource: 1024, reason: 2048, requestId: 256, ip: 128 } as const;

/**
 * Validates, redacts and serialises an event at `append` time, so a bad event fails
 * its own caller and can never fail the batch it would have joined.
 */
export function prepareEvent(input: AuditEventInput, clock: Clock): PreparedEvent {
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new ValidationError(`invalid audit event: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, issues);
  }
  const event = parsed.data;
  const argsText = JSON.stringify(redact(input.args));
  const resultText = input.result === undefined || input.result === null ? null : JSON.stringify(redact(input.result));
  return {
    id: newId('evt'),
    time: Math.trunc(clock.now()),
    principal: storedText(event.principal, LIMITS.principal),
    principalKind: storedText(event.principalKind, LIMITS.principalKind),
    action: storedText(event.action, LIMITS.action),
    resource: storedText(event.resource, LIMITS.resource),
    decision: event.decision,
    reason: event.reason == null ? null : storedText(scrubText(event.reason), LIMITS.reason),
    argsText,
    args: JSON.parse(argsText) as unknown,
    resultText,
    result: resultText === null ? null : (JSON.parse(resultText) as unknown),
    requestId: event.requestId == null ? null : storedText(event.requestId, LIMITS.requestId),
    ip: event.ip == null ? null : storedText(event.ip, LIMITS.ip),
  };
}

// Lone surrogates would be re-encoded as U+FFFD by the driver and NUL is refused by
// PostgreSQL; either way the stored text would differ from the text hashed.
// eslint-disable-next-line no-control-regex -- NUL is exactly what must be found
const UNSTORABLE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/g;

function storedText(text: string, max: number): string {
  const clean = text.replace(UNSTORABLE, '\uFFFD');
  return clean.length > max ? `${cutChars(clean, max - 1)}…` : clean;
}

export function toRow(record: AuditRecord & { argsText: string; resultText: string | null }): AuditEventsTable {
  return {
    seq: record.seq,
    id: record.id,
    time: record.time,
    principal: record.principal,
    principal_kind: record.principalKind,
    action: record.action,
    resource: record.resource,
    decision: record.decision,
    reason: record.reason,
    args: record.argsText,
    result: record.resultText,
    request_id: record.requestId,
    ip: record.ip,
    prev_hash: record.prevHash,
    hash: record.hash,
  };
}

/** A stored row's columns as the chain sees them, JSON columns read with `parse`. */
function contentOf(row: AuditEventRow, parse: (text: string) => unknown): ChainedContent {
  return {
    seq: Number(row.seq),
    id: row.id,
    time: Number(row.time),
    principal: row.principal,
    principalKind: row.principal_kind,
    action: row.action,
    resource: row.resource,
    decision: row.decision,
    reason: row.reason,
    args: parse(row.args),
    result: row.result === null ? null : parse(row.result),
    requestId: row.request_id,
    ip: row.ip,
    prevHash: row.prev_hash,
  };
}

/** What the hash of a stored row must cover; throws SyntaxError when args/result are not JSON. */
export function chainedContentOf(row: AuditEventRow): ChainedContent {
  return contentOf(row, (text) => JSON.parse(text) as unknown);
}

/** For reading, not verifying: a row edited into invalid JSON shows its raw text. */
export function recordOf(row: AuditEventRow): AuditRecord {
  return { ...contentOf(row, parseOrText), decision: row.decision as AuditDecision, hash: row.hash };
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
