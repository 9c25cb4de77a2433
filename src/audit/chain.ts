import { createHmac } from 'node:crypto';
import type { AuditRecord } from './types.js';

/** The prev_hash of seq 1. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Exactly what the chain hash covers: a record without its own hash; args/result as
 * stored (redacted, JSON round-tripped). The decision is any string here, because the
 * verifier hashes rows as they are, including edited ones.
 */
export type ChainedContent = Omit<AuditRecord, 'hash' | 'decision'> & { decision: string };

/**
 * JSON with object keys sorted (by UTF-16 code units, as Array#sort does) at every
 * level, so the bytes hashed depend only on the values, never on property order or
 * on which database returned the row. Changing this breaks every existing log.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item)).join(',')}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Hex HMAC-SHA256 over the canonical record; the `hash` column. */
export function recordHash(key: Buffer, content: ChainedContent): string {
  // Picked field by field so a caller's extra properties (the hash itself, say) never leak in.
  const covered: ChainedContent = {
    seq: content.seq,
    id: content.id,
    time: content.time,
    principal: content.principal,
    principalKind: content.principalKind,
    action: content.action,
    resource: content.resource,
    decision: content.decision,
    reason: content.reason,
    args: content.args,
    result: content.result,
    requestId: content.requestId,
    ip: content.ip,
    prevHash: content.prevHash,
  };
  return createHmac('sha256', key).update(canonicalJson(covered)).digest('hex');
}

/** The head's MAC: without the key nobody can rewind the head to hide a cut tail. */
export function headMac(key: Buffer, seq: number, hash: string): string {
  return createHmac('sha256', key).update(`audit-head:${seq}:${hash}`).digest('hex');
}

/** The head as the migration creates it, before the first event; it carries no MAC. */
export function isUnwrittenHead(head: { seq: number; hash: string; mac: string }): boolean {
  return head.seq === 0 && head.hash === '' && head.mac === '';
}

/** True when the head is the unwritten one or carries a valid MAC under `key`. */
export function headIsSigned(key: Buffer, head: { seq: number; hash: string; mac: string }): boolean {
  return isUnwrittenHead(head) || head.mac === headMac(key, head.seq, head.hash);
}
