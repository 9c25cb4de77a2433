import { performance } from 'node:perf_hooks';
// The module's own function: a test's fake timers must not be able to stall the log.
import { setImmediate } from 'node:timers';
import type { Transaction } from 'kysely';
import { UnavailableError, ValidationError, systemClock } from '../core/index.js';
import type { Database, Store } from '../store/index.js';
import { GENESIS_HASH, headIsSigned, headMac, recordHash } from './chain.js';
import { prepareEvent, toRow, type PreparedEvent } from './event-record.js';
import { queryAuditEvents } from './query.js';
import type { AuditEventInput, AuditLog, AuditLogOptions, AuditRecord } from './types.js';
import { inWriterTurn } from './writer-turns.js';

export const DEFAULT_MAX_BATCH = 512;
// 15 columns a row: 1000 rows is 15 000 parameters, under both SQLite's 32 766 and
// PostgreSQL's 65 535, while a default batch still fits one statement.
const ROWS_PER_INSERT = 1000;

interface Pending {
  event: PreparedEvent;
  resolve(record: AuditRecord): void;
  reject(error: unknown): void;
}

type StoredRecord = AuditRecord & { argsText: string; resultText: string | null };

/**
 * An append-only, hash-chained log with group commit: appends queue, one flush at a
 * time writes up to maxBatch of them in a single transaction, and whatever arrives
 * meanwhile forms the next batch. So one fsync (SQLite) or one commit round trip
 * (PostgreSQL) serves many requests, and each caller still learns only after commit.
 */
export function createAuditLog(store: Store, options: AuditLogOptions): AuditLog {
  const { key } = options;
  if (!Buffer.isBuffer(key) || key.length < 32) {
    throw new ValidationError('the audit key must be at least 32 bytes', [{ path: 'key', message: 'at least 32 bytes' }]);
  }
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new ValidationError(`audit maxBatch must be a positive integer, not ${maxBatch}`, [{ path: 'maxBatch', message: 'positive integer' }]);
  }
  const clock = options.clock ?? systemClock;
  const queue: Pending[] = [];
  const idleWaiters: Array<() => void> = [];
  let draining = false;
  let closed = false;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      const started = performance.now();
      let records: AuditRecord[];
      try {
        records = await inWriterTurn(store, () => writeBatch(store, key, batch.map((pending) => pending.event)));
      } catch (error) {
        const failure = new UnavailableError(`the audit log could not record ${batch.length} event(s): ${(error as Error).message}`, { cause: error });
        for (const pending of batch) pending.reject(failure);
        continue;
      }
      try {
        options.onCommit?.(batch.length, performance.now() - started);
      } catch {
        // A metrics callback must not turn committed events into failures.
      }
      batch.forEach((pending, i) => pending.resolve(records[i]!));
    }
    draining = false;
    for (const wake of idleWaiters.splice(0)) wake();
  }

  function append(input: AuditEventInput): Promise<AuditRecord> {
    if (closed) return Promise.reject(new UnavailableError('the audit log is closed; the event was not recorded'));
    let event: PreparedEvent;
    try {
      event = prepareEvent(input, clock);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      queue.push({ event, resolve, reject });
      if (!draining) {
        draining = true;
        // The end of this event-loop turn, not a microtask and not a timer: every request
        // callback the loop is handling this turn joins the batch, and a lone append waits
        // for nothing. A microtask would flush after the first callback, and a SQLite
        // commit (synchronous, fsync included) would then serve one event at a time.
        setImmediate(() => void drain());
      }
    });
  }

  function flush(): Promise<void> {
    if (!draining) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  }

  return {
    append,
    flush,
    query: (query) => queryAuditEvents(store, query),
    async close() {
      closed = true;
      await flush();
    },
  };
}

/**
 * Writes one batch in one transaction. Locking the head row first makes concurrent
 * writers (other processes, other servers) take turns, so each batch extends the head
 * it read; the seq primary key turns any writer that slipped past into a failed batch,
 * never a fork.
 */
async function writeBatch(store: Store, key: Buffer, events: readonly PreparedEvent[]): Promise<AuditRecord[]> {
  const stored = await store.db.transaction().execute(async (trx) => {
    const head = await lockHead(trx);
    const headSeq = Number(head.seq);
    // Extending a head this key did not sign would re-sign a rewound or foreign log
    // and so launder the tampering; refusing keeps it visible to `audit verify`.
    if (!headIsSigned(key, { seq: headSeq, hash: head.hash, mac: head.mac })) {
      throw new UnavailableError(
        `the audit head (seq ${headSeq}) is not signed by this key: either IRONCODE_AUDIT_KEY / audit.key differs from the one the log was written with, or the log was tampered with; run \`ironcode audit verify\``,
      );
    }
    let seq = headSeq;
    let prevHash = headSeq === 0 ? GENESIS_HASH : head.hash;
    const records: StoredRecord[] = events.map((event) => {
      seq += 1;
      const content = {
        seq,
        id: event.id,
        time: event.time,
        principal: event.principal,
        principalKind: event.principalKind,
        action: event.action,
        resource: event.resource,
        decision: event.decision,
        reason: event.reason,
        args: event.args,
        result: event.result,
        requestId: event.requestId,
        ip: event.ip,
        prevHash,
      };
      const hash = recordHash(key, content);
      prevHash = hash;
      return { ...content, hash, argsText: event.argsText, resultText: event.resultText };
    });
    for (let i = 0; i < records.length; i += ROWS_PER_INSERT) {
      await trx.insertInto('audit_events').values(records.slice(i, i + ROWS_PER_INSERT).map(toRow)).execute();
    }
    await trx.updateTable('audit_head').set({ seq, hash: prevHash, mac: headMac(key, seq, prevHash) }).where('id', '=', 1).execute();
    return records;
  });
  return stored.map(({ argsText: _argsText, resultText: _resultText, ...record }) => record);
}

/**
 * A no-op write to the head row that returns it: SQLite takes its write lock here
 * (before any read, so the busy timeout applies instead of a stale-snapshot error),
 * PostgreSQL a row lock held to commit. One statement, so one round trip.
 */
async function lockHead(trx: Transaction<Database>): Promise<{ seq: number; hash: string; mac: string }> {
  const head = await trx
    .updateTable('audit_head')
    .set((eb) => ({ seq: eb.ref('seq') }))
    .where('id', '=', 1)
    .returning(['seq', 'hash', 'mac'])
    .executeTakeFirst();
  if (head === undefined) throw new UnavailableError('the audit_head row is missing; run the database migrations');
  return head;
}
