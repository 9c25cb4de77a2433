// Durable audit appends per second (group commit, HMAC chain) against a plain INSERT of
// the same row into the same database, each awaited before the caller goes on, at the
// same concurrency. Both commit durably (SQLite: WAL, synchronous=FULL; PostgreSQL:
// fsync on commit as configured by the server).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createAuditLog } from '../dist/audit/index.js';
import { migrateToLatest, openStore } from '../dist/store/index.js';

function event(i) {
  return {
    principal: `usr_${i % 50}`,
    principalKind: 'user',
    action: 'auth.login',
    resource: `user:usr_${i % 50}`,
    decision: i % 7 === 0 ? 'denied' : 'allowed',
    reason: i % 7 === 0 ? 'wrong password' : undefined,
    args: { username: `user${i % 50}`, factor: 'password' },
    requestId: `req_${i}`,
    ip: '127.0.0.1',
  };
}

async function drive(total, concurrency, fn) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

async function measure(store, key, { total, concurrency }) {
  // The baseline table is audit_events' twin, indexes included, so the ratio measures
  // the chain, the head lock and the batching, not a cheaper table.
  await sql`create table if not exists bench_plain (seq bigint primary key, id text not null unique, time bigint not null, principal text not null, principal_kind text not null, action text not null, resource text not null, decision text not null, reason text, args text not null, result text, request_id text, ip text, prev_hash text not null, hash text not null)`.execute(store.db);
  await sql`create index if not exists bench_plain_time on bench_plain (time)`.execute(store.db);
  await sql`create index if not exists bench_plain_principal on bench_plain (principal, seq)`.execute(store.db);
  await sql`create index if not exists bench_plain_action on bench_plain (action, seq)`.execute(store.db);
  let commits = 0;
  const audit = createAuditLog(store, { key, onCommit: () => commits++ });
  const auditPerSecond = await drive(total, concurrency, (i) => audit.append(event(i)));
  await audit.close();
  let seq = 0;
  const plainPerSecond = await drive(total, concurrency, async (i) => {
    const e = event(i);
    seq += 1;
    await store.db
      .insertInto('bench_plain')
      .values({ seq, id: `evt_${seq}`, time: Date.now(), principal: e.principal, principal_kind: e.principalKind, action: e.action, resource: e.resource, decision: e.decision, reason: e.reason ?? null, args: JSON.stringify(e.args), result: null, request_id: e.requestId, ip: e.ip, prev_hash: '', hash: '' })
      .execute();
  });
  await sql`drop table bench_plain`.execute(store.db);
  return { total, concurrency, auditPerSecond, plainPerSecond, ratio: auditPerSecond / plainPerSecond, auditCommits: commits, eventsPerCommit: total / commits };
}

export async function benchAuditAppends({ total = 20000, databaseUrl } = {}) {
  const results = {};
  const targets = [['sqlite', undefined], ...(databaseUrl ? [['postgres', databaseUrl]] : [])];
  for (const [dialect, url] of targets) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ironcode-bench-audit-'));
    const store = openStore({ dataDir, databaseUrl: url });
    try {
      await migrateToLatest(store);
      if (dialect === 'postgres') await sql`truncate audit_events`.execute(store.db).then(() => sql`update audit_head set seq = 0, hash = '', mac = ''`.execute(store.db));
      const key = randomBytes(32);
      results[dialect] = {
        sequential: await measure(store, key, { total: Math.round(total / 10), concurrency: 1 }),
        concurrent64: await measure(store, key, { total, concurrency: 64 }),
      };
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return results;
}
