import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IronError, ValidationError } from '../core/index.js';
import type { Dialect } from '../store/index.js';
import { testDatabase, type TestDatabase } from '../../test/support/test-database.js';
import { createAuditLog, queryAuditEvents, verifyAuditLog, REDACTED, type AuditEventInput, type AuditRecord } from './index.js';

const key = Buffer.alloc(32, 1);
const event = (overrides: Partial<AuditEventInput> = {}): AuditEventInput => ({
  principal: 'usr_alice',
  principalKind: 'user',
  action: 'auth.login',
  resource: 'user:usr_alice',
  decision: 'allowed',
  ...overrides,
});

const dialects: Dialect[] = ['sqlite', 'postgres'];

describe.each(dialects)('audit log on %s', (dialect) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await testDatabase(dialect);
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('appends chained, redacted records that verify', async () => {
    let now = 1_767_225_600_000;
    const log = createAuditLog(db.store, { key, clock: { now: () => now++ } });
    const first = await log.append(
      event({ args: { username: 'alice', password: 'hunter2' }, result: { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln', ok: true }, requestId: 'req-1', ip: '10.0.0.1' }),
    );
    const second = await log.append(event({ decision: 'denied', reason: 'wrong password, Bearer abc123 rejected' }));

    expect(first).toMatchObject({
      seq: 1,
      time: 1_767_225_600_000,
      args: { username: 'alice', password: REDACTED },
      result: { token: REDACTED, ok: true },
      requestId: 'req-1',
      ip: '10.0.0.1',
      reason: null,
      prevHash: '0'.repeat(64),
    });
    expect(first.id).toMatch(/^evt_/);
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash, args: null, result: null, reason: `wrong password, ${REDACTED} rejected` });
    expect(await log.query({ order: 'asc' })).toEqual([first, second]);
    expect(await verifyAuditLog(db.store, key)).toEqual({ ok: true, checked: 2, lastSeq: 2 });
    await log.close();
  });

  it('stores text the database would otherwise alter, so the log still verifies', async () => {
    const log = createAuditLog(db.store, { key });
    const record = await log.append(event({ principal: 'usr_\u0000x', resource: 'user:\uD800lone', reason: 'r'.repeat(5000) }));
    expect(record.principal).toBe('usr_\uFFFDx');
    expect(record.resource).toBe('user:\uFFFDlone');
    expect(record.reason).toHaveLength(2048);
    expect(await verifyAuditLog(db.store, key)).toMatchObject({ ok: true, checked: 1 });
  });

  it('group-commits concurrent appends into few transactions, in append order', async () => {
    const commits: number[] = [];
    const log = createAuditLog(db.store, { key, onCommit: (events) => commits.push(events) });
    const records = await Promise.all(Array.from({ length: 2000 }, (_, i) => log.append(event({ args: { i } }))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(records.map((r) => (r.args as { i: number }).i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(commits.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(commits).toEqual([512, 512, 512, 464]);

    // One at a time, each append waits for its own commit.
    commits.length = 0;
    for (let i = 0; i < 3; i++) await log.append(event());
    expect(commits).toEqual([1, 1, 1]);
    expect(await verifyAuditLog(db.store, key)).toMatchObject({ ok: true, checked: 2003 });
  });

  it('shares one commit among appends made from separate event-loop callbacks', async () => {
    const commits: number[] = [];
    const log = createAuditLog(db.store, { key, onCommit: (events) => commits.push(events) });
    // Each append from its own callback, as requests arriving on sockets make them.
    const records = await Promise.all(
      Array.from({ length: 100 }, () => new Promise<AuditRecord>((resolve, reject) => setImmediate(() => log.append(event()).then(resolve, reject)))),
    );
    expect(records).toHaveLength(100);
    expect(commits).toEqual([100]);
  });

  it('batches what arrives while a commit is in flight', async () => {
    const commits: number[] = [];
    const log = createAuditLog(db.store, { key, onCommit: (events) => commits.push(events) });
    const first = log.append(event());
    // Let the first flush start and take its lone event before the rest arrive.
    await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 50 }, () => log.append(event()));
    await Promise.all([first, ...rest]);
    expect(commits).toEqual([1, 50]);
  });

  it('honours maxBatch', async () => {
    const commits: number[] = [];
    const log = createAuditLog(db.store, { key, maxBatch: 3, onCommit: (events) => commits.push(events) });
    await Promise.all(Array.from({ length: 10 }, () => log.append(event())));
    expect(commits).toEqual([3, 3, 3, 1]);
  });

  it('rejects every append of a failed batch and keeps the chain whole for later ones', async () => {
    const log = createAuditLog(db.store, { key });
    await Promise.all(Array.from({ length: 5 }, () => log.append(event())));
    // A row squatting on the next seq makes the next batch's insert fail.
    const squatter = { ...(await db.store.db.selectFrom('audit_events').selectAll().where('seq', '=', 5).executeTakeFirstOrThrow()), seq: 6, id: 'evt_squatter' };
    await db.store.db.insertInto('audit_events').values(squatter).execute();

    const failed = await Promise.allSettled(Array.from({ length: 4 }, () => log.append(event({ action: 'doomed' }))));
    for (const outcome of failed) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(IronError);
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/could not record 4 event/);
    }
    expect(await queryAuditEvents(db.store, { action: 'doomed' })).toEqual([]);

    await db.store.db.deleteFrom('audit_events').where('id', '=', 'evt_squatter').execute();
    const later = await Promise.all(Array.from({ length: 3 }, () => log.append(event())));
    expect(later.map((r) => r.seq)).toEqual([6, 7, 8]);
    expect(await verifyAuditLog(db.store, key)).toEqual({ ok: true, checked: 8, lastSeq: 8 });
  });

  it('fails only the invalid append, not the batch it would have joined', async () => {
    const log = createAuditLog(db.store, { key });
    const outcomes = await Promise.allSettled([
      log.append(event()),
      log.append(event({ decision: 'maybe' as never })),
      log.append(event({ principal: '' })),
      log.append(event()),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/principal/);
    expect((outcomes[3] as PromiseFulfilledResult<AuditRecord>).value.seq).toBe(2);
  });

  it('close() drains the queue, then refuses appends', async () => {
    const log = createAuditLog(db.store, { key });
    const pending = Array.from({ length: 100 }, (_, i) => log.append(event({ args: { i } })));
    await log.close();
    const settled = await Promise.allSettled(pending);
    expect(settled.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(await queryAuditEvents(db.store, { limit: 1000 })).toHaveLength(100);
    await expect(log.append(event())).rejects.toThrow(/audit log is closed/);
    await expect(log.flush()).resolves.toBeUndefined();
    await expect(log.close()).resolves.toBeUndefined();
  });

  it('flush() waits for what was appended before it', async () => {
    const log = createAuditLog(db.store, { key });
    let settled = 0;
    for (let i = 0; i < 20; i++) void log.append(event()).then(() => settled++);
    await log.flush();
    // The resolutions run before flush's waiters are woken.
    await Promise.resolve();
    expect(settled).toBe(20);
    expect(await queryAuditEvents(db.store, {})).toHaveLength(20);
  });

  it('keeps one chain when two connections append concurrently', async () => {
    const other = db.open();
    const logs = [createAuditLog(db.store, { key, maxBatch: 16 }), createAuditLog(other, { key, maxBatch: 16 })];
    const seqsByLog: number[][] = [[], []];
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        logs.flatMap((log, which) => Array.from({ length: 50 }, async () => seqsByLog[which]!.push((await log.append(event({ principal: `log${which}` }))).seq))),
      );
    }
    const all = [...seqsByLog[0]!, ...seqsByLog[1]!].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(seqsByLog[0]).toHaveLength(500);
    expect(await verifyAuditLog(other, key)).toEqual({ ok: true, checked: 1000, lastSeq: 1000 });
  });

  it('refuses to extend a log whose head another key signed', async () => {
    await createAuditLog(db.store, { key }).append(event());
    const stranger = createAuditLog(db.store, { key: Buffer.alloc(32, 2) });
    await expect(stranger.append(event())).rejects.toThrow(/not signed by this key/);
    expect(await verifyAuditLog(db.store, key)).toEqual({ ok: true, checked: 1, lastSeq: 1 });
  });

  it('refuses keys shorter than 32 bytes and a bad maxBatch', () => {
    expect(() => createAuditLog(db.store, { key: Buffer.alloc(16) })).toThrow(ValidationError);
    expect(() => createAuditLog(db.store, { key, maxBatch: 0 })).toThrow(ValidationError);
  });

  describe('query', () => {
    const base = 1_800_000_000_000;
    let all: AuditRecord[];
    beforeEach(async () => {
      let i = 0;
      const log = createAuditLog(db.store, { key, clock: { now: () => base + 1000 * i++ } });
      const plan: Array<Partial<AuditEventInput>> = [
        { principal: 'usr_a', action: 'auth.login', decision: 'allowed' },
        { principal: 'usr_b', action: 'auth.login', decision: 'failed' },
        { principal: 'usr_a', action: 'auth.logout', decision: 'allowed' },
        { principal: 'key_c', principalKind: 'api-key', action: 'api-key.create', decision: 'denied' },
        { principal: 'usr_a', action: 'authx.odd', decision: 'allowed' },
        { principal: 'usr_b', action: 'AUTH.upper', decision: 'allowed' },
        { principal: 'usr_b', action: 'a_b.c', decision: 'allowed' },
        { principal: 'usr_a', action: 'axb.c', decision: 'denied' },
        { principal: 'usr_a', action: 'auth', decision: 'allowed' },
        { principal: 'usr_b', action: 'auth.login', decision: 'denied' },
      ];
      // One at a time so each event gets its own clock tick in seq order.
      all = [];
      for (const overrides of plan) all.push(await log.append(event(overrides)));
    });
    const seqs = (records: AuditRecord[]) => records.map((r) => r.seq);

    it('returns newest first by default, oldest first on request', async () => {
      expect(seqs(await queryAuditEvents(db.store, {}))).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      expect(seqs(await queryAuditEvents(db.store, { order: 'asc' }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await queryAuditEvents(db.store, { order: 'asc' })).toEqual(all);
    });

    it('filters by principal, decision and exact action', async () => {
      expect(seqs(await queryAuditEvents(db.store, { principal: 'usr_b' }))).toEqual([10, 7, 6, 2]);
      expect(seqs(await queryAuditEvents(db.store, { decision: 'denied' }))).toEqual([10, 8, 4]);
      expect(seqs(await queryAuditEvents(db.store, { action: 'auth.login' }))).toEqual([10, 2, 1]);
      expect(seqs(await queryAuditEvents(db.store, { action: 'auth.login', principal: 'usr_b', decision: 'failed' }))).toEqual([2]);
    });

    it('matches an action prefix exactly: case-sensitive, no LIKE wildcards', async () => {
      expect(seqs(await queryAuditEvents(db.store, { action: 'auth.*' }))).toEqual([10, 3, 2, 1]);
      expect(seqs(await queryAuditEvents(db.store, { action: 'a_b.*' }))).toEqual([7]);
      expect(seqs(await queryAuditEvents(db.store, { action: 'auth*' }))).toEqual([10, 9, 5, 3, 2, 1]);
      expect(seqs(await queryAuditEvents(db.store, { action: '*' }))).toHaveLength(10);
    });

    it('filters by time: since inclusive, until exclusive', async () => {
      expect(seqs(await queryAuditEvents(db.store, { since: base + 7000 }))).toEqual([10, 9, 8]);
      expect(seqs(await queryAuditEvents(db.store, { until: base + 2000 }))).toEqual([2, 1]);
      expect(seqs(await queryAuditEvents(db.store, { since: base + 2000, until: base + 4000, order: 'asc' }))).toEqual([3, 4]);
    });

    it('pages by seq and limit', async () => {
      expect(seqs(await queryAuditEvents(db.store, { limit: 3 }))).toEqual([10, 9, 8]);
      expect(seqs(await queryAuditEvents(db.store, { limit: 3, beforeSeq: 8 }))).toEqual([7, 6, 5]);
      expect(seqs(await queryAuditEvents(db.store, { limit: 3, afterSeq: 8, order: 'asc' }))).toEqual([9, 10]);
      expect(seqs(await queryAuditEvents(db.store, { afterSeq: 2, beforeSeq: 5 }))).toEqual([4, 3]);
    });

    it('defaults to 100 and caps at 1000', async () => {
      const log = createAuditLog(db.store, { key });
      await Promise.all(Array.from({ length: 1100 }, () => log.append(event())));
      expect(await log.query({})).toHaveLength(100);
      expect(await log.query({ limit: 5000 })).toHaveLength(1000);
    });

    it('refuses malformed queries, naming the field', async () => {
      await expect(queryAuditEvents(db.store, { limit: 0 })).rejects.toThrow(/limit/);
      await expect(queryAuditEvents(db.store, { since: Number.NaN })).rejects.toThrow(/since/);
      await expect(queryAuditEvents(db.store, { decision: 'maybe' as never })).rejects.toThrow(ValidationError);
      await expect(queryAuditEvents(db.store, { principle: 'typo' } as never)).rejects.toThrow(/principle/);
    });
  });
});
