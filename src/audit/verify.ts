import type { AuditEventRow, Store } from '../store/index.js';
import { GENESIS_HASH, headIsSigned, recordHash } from './chain.js';
import { chainedContentOf } from './event-record.js';
import type { VerifyResult } from './types.js';

const PAGE_SIZE = 2000;

interface Progress {
  checked: number;
  lastSeq: number;
  lastHash: string;
}

interface Finding {
  seq: number;
  problem: string;
}

/**
 * Checks the whole chain: seqs contiguous from 1, each prev_hash equal to the previous
 * hash, each hash the HMAC of its row, and the signed head equal to the last row.
 * Stops at the first problem and names the first seq that cannot be trusted.
 *
 * The head is read after the rows, not before, and rows beyond a head read earlier
 * are chased until the head stops moving: a batch commits its rows and the head
 * together, so this tolerates writers appending during verification while rows that
 * the head never covered are still reported.
 */
export async function verifyAuditLog(store: Store, key: Buffer, options: { onProgress?(checked: number): void } = {}): Promise<VerifyResult> {
  const progress: Progress = { checked: 0, lastSeq: 0, lastHash: GENESIS_HASH };
  const broken = (finding: Finding): VerifyResult => ({ ok: false, checked: progress.checked, lastSeq: progress.lastSeq, firstBadSeq: finding.seq, problem: finding.problem });

  const scan = async (): Promise<Finding | undefined> => {
    for (;;) {
      const rows = await store.db.selectFrom('audit_events').selectAll().where('seq', '>', progress.lastSeq).orderBy('seq', 'asc').limit(PAGE_SIZE).execute();
      for (const row of rows) {
        const finding = checkRow(key, row, progress);
        if (finding !== undefined) return finding;
        progress.checked += 1;
        progress.lastSeq = Number(row.seq);
        progress.lastHash = row.hash;
      }
      if (rows.length > 0) options.onProgress?.(progress.checked);
      if (rows.length < PAGE_SIZE) return undefined;
    }
  };

  let finding = await scan();
  if (finding !== undefined) return broken(finding);
  let head = await readHead(store);
  while (head !== undefined && head.seq > progress.lastSeq) {
    const before = progress.lastSeq;
    finding = await scan();
    if (finding !== undefined) return broken(finding);
    if (progress.lastSeq === before) break;
    head = await readHead(store);
  }

  const next = progress.lastSeq + 1;
  if (head === undefined) return broken({ seq: next, problem: 'the audit head row is missing (deleted?)' });
  if (head.seq > progress.lastSeq) {
    return broken({ seq: next, problem: `seq ${next} missing: the signed head says the log ends at seq ${head.seq} (tail deleted?)` });
  }
  if (head.seq < progress.lastSeq) {
    return broken({ seq: head.seq + 1, problem: `seq ${head.seq + 1} is beyond the head at seq ${head.seq} (inserted, or the head rewound?)` });
  }
  if (head.seq > 0 && head.hash !== progress.lastHash) {
    return broken({ seq: head.seq + 1, problem: `the head's hash does not match seq ${head.seq} (head edited?)` });
  }
  if (!headIsSigned(key, head)) {
    return broken({ seq: head.seq + 1, problem: `the head at seq ${head.seq} is not signed by this key: it was rewritten without the key (rows after seq ${head.seq} deleted?)` });
  }
  return { ok: true, checked: progress.checked, lastSeq: progress.lastSeq };
}

function checkRow(key: Buffer, row: AuditEventRow, progress: Progress): Finding | undefined {
  const seq = Number(row.seq);
  const expected = progress.lastSeq + 1;
  if (seq !== expected) {
    const gone = seq - expected;
    return { seq: expected, problem: `seq ${expected} missing (deleted?)${gone > 1 ? `; ${gone} rows are gone before seq ${seq}` : ''}` };
  }
  // The link is checked before the content so a moved row reads as moved, not edited.
  if (row.prev_hash !== progress.lastHash) {
    return { seq, problem: `seq ${seq}: previous hash does not match ${seq === 1 ? 'the genesis value' : `seq ${seq - 1}`} (reordered or inserted?)` };
  }
  let content;
  try {
    content = chainedContentOf(row);
  } catch {
    return { seq, problem: `seq ${seq}: args or result is not valid JSON (edited?)` };
  }
  if (recordHash(key, content) !== row.hash) {
    return { seq, problem: `seq ${seq}: hash does not match its content (edited?${seq === 1 ? ', or not the key this log was written with' : ''})` };
  }
  return undefined;
}

async function readHead(store: Store): Promise<{ seq: number; hash: string; mac: string } | undefined> {
  const head = await store.db.selectFrom('audit_head').select(['seq', 'hash', 'mac']).where('id', '=', 1).executeTakeFirst();
  return head === undefined ? undefined : { seq: Number(head.seq), hash: head.hash, mac: head.mac };
}
