import { queryAuditEvents, verifyAuditLog, type AuditDecision, type AuditRecord } from '../audit/index.js';
import type { Store } from '../store/index.js';

/** `ironcode audit verify`: 0 when the chain is intact, 1 naming the first bad seq. */
export async function auditVerify(store: Store, key: Buffer, out: NodeJS.WritableStream): Promise<number> {
  const result = await verifyAuditLog(store, key);
  if (result.ok) {
    out.write(`audit log intact: ${result.checked} events, last seq ${result.lastSeq}\n`);
    return 0;
  }
  const seq = result.firstBadSeq ?? result.lastSeq + 1;
  const problem = result.problem ?? 'unknown problem';
  // The problem usually starts with the same "seq N: " the headline already gives.
  const detail = problem.startsWith(`seq ${seq}: `) ? problem.slice(`seq ${seq}: `.length) : problem;
  out.write(`audit log BROKEN at seq ${seq}: ${detail}\n`);
  return 1;
}

export interface AuditTailOptions {
  limit: number;
  json: boolean;
  principal?: string | undefined;
  action?: string | undefined;
  decision?: AuditDecision | undefined;
}

/** `ironcode audit tail`: the last `limit` matching events, oldest first. Reading needs no key. */
export async function auditTail(store: Store, options: AuditTailOptions, out: NodeJS.WritableStream): Promise<void> {
  const newestFirst = await queryAuditEvents(store, {
    limit: options.limit,
    order: 'desc',
    ...(options.principal === undefined ? {} : { principal: options.principal }),
    ...(options.action === undefined ? {} : { action: options.action }),
    ...(options.decision === undefined ? {} : { decision: options.decision }),
  });
  for (const record of newestFirst.reverse()) out.write(`${options.json ? JSON.stringify(record) : formatLine(record)}\n`);
}

function formatLine(record: AuditRecord): string {
  const fields = [
    new Date(record.time).toISOString(),
    `#${record.seq}`,
    record.decision.padEnd(7),
    record.principal,
    record.action,
    record.resource,
  ].map(printable);
  return record.reason === null ? fields.join('  ') : `${fields.join('  ')}  — ${printable(record.reason)}`;
}

// Principals and resources can hold what an attacker typed (a username at a failed
// login); raw control characters would let it rewrite the operator's terminal.
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be found
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
function printable(text: string): string {
  return text.replace(CONTROL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
