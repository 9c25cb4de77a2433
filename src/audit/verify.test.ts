import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEventRow, Dialect, Store } from '../store/index.js';
import { testDatabase, type TestDatabase } from '../../test/support/test-database.js';
import { chainedContentOf } from './event-record.js';
import { headMac, recordHash } from './chain.js';
import { createAuditLog, verifyAuditLog, type AuditEventInput, type AuditLog } from './index.js';

const key = Buffer.alloc(32, 1);
const wrongKey = Buffer.alloc(32, 9);
const event = (i: number): AuditEventInput => ({
  principal: `usr_${i % 3}`,
  principalKind: 'user',
  action: i % 2 === 0 ? 'auth.login' : 'tool.invoke',
  resource: `tool:desktop.read_file`,
  decision: i % 5 === 0 ? 'denied' : 'allowed',
  args: { i, path: `/tmp/${i}` },
});

async function appendMany(log: AuditLog, count: number, from = 0): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => log.append(event(from + i))));
}

describe.each<Dialect>(['sqlite', 'postgres'])('verifyAuditLog on %s', (dialect) => {
  let db: TestDatabase;
  let store: Store;
  beforeEach(async () => {
    db = await testDatabase(dialect);
    store = db.store;
  });
  afterEach(async () => {
    await db.dispose();
  });

  const row = (seq: number) => store.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
  const head = () => store.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
  const setHead = (values: { seq: number; hash: string; mac: string }) => store.db.updateTable('audit_head').set(values).where('id', '=', 1).execute();
  /** A row that chains correctly but is signed with `signer`, as a forger without the key would produce. */
  const forged = (seq: number, prevHash: string, signer: Buffer, id = `evt_forged${seq}`): AuditEventRow => {
    const base: AuditEventRow = {
      seq, id, time: 1, principal: 'usr_mallory', principal_kind: 'user', action: 'auth.login', resource: 'user:usr_mallory',
      decision: 'allowed', reason: null, args: 'null', result: null, request_id: null, ip: null, prev_hash: prevHash, hash: '',
    };
    return { ...base, hash: recordHash(signer, chainedContentOf(base)) };
  };

  it('passes an empty log', async () => {
    expect(await verifyAuditLog(store, key)).toEqual({ ok: true, checked: 0, lastSeq: 0 });
    expect(await verifyAuditLog(store, wrongKey)).toEqual({ ok: true, checked: 0, lastSeq: 0 });
  });

  it('passes an intact log across several pages, reporting progress', async () => {
    await appendMany(createAuditLog(store, { key }), 4500);
    const progress: number[] = [];
    expect(await verifyAuditLog(store, key, { onProgress: (checked) => progress.push(checked) })).toEqual({ ok: true, checked: 4500, lastSeq: 4500 });
    expect(progress).toEqual([2000, 4000, 4500]);
  });

  it('finds an edit on a later page', async () => {
    await appendMany(createAuditLog(store, { key }), 4500);
    await store.db.updateTable('audit_events').set({ decision: 'allowed', args: '{"i":4321,"path":"/etc/shadow"}' }).where('seq', '=', 4321).execute();
    expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, firstBadSeq: 4321, checked: 4320, lastSeq: 4320 });
  });

  describe('after tampering with a 20-event log', () => {
    beforeEach(async () => {
      const log = createAuditLog(store, { key });
      for (let i = 1; i <= 20; i++) await log.append(event(i));
      expect(await verifyAuditLog(store, key)).toEqual({ ok: true, checked: 20, lastSeq: 20 });
    });

    it.each<[string, keyof AuditEventRow, string | number]>([
      ['decision', 'decision', 'denied'],
      ['principal', 'principal', 'usr_someone_else'],
      ['reason', 'reason', 'nothing to see'],
      ['args', 'args', '{"i":7,"path":"/nothing"}'],
      ['time', 'time', 42],
      ['hash', 'hash', 'f'.repeat(64)],
    ])('an edited %s', async (_name, column, value) => {
      await store.db.updateTable('audit_events').set({ [column]: value }).where('seq', '=', 7).execute();
      expect(await verifyAuditLog(store, key)).toEqual({ ok: false, checked: 6, lastSeq: 6, firstBadSeq: 7, problem: 'seq 7: hash does not match its content (edited?)' });
    });

    it('args edited into invalid JSON', async () => {
      await store.db.updateTable('audit_events').set({ args: '{"i":' }).where('seq', '=', 7).execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, firstBadSeq: 7, problem: 'seq 7: args or result is not valid JSON (edited?)' });
    });

    it('a deleted row', async () => {
      await store.db.deleteFrom('audit_events').where('seq', '=', 7).execute();
      expect(await verifyAuditLog(store, key)).toEqual({ ok: false, checked: 6, lastSeq: 6, firstBadSeq: 7, problem: 'seq 7 missing (deleted?)' });
    });

    it('several deleted rows', async () => {
      await store.db.deleteFrom('audit_events').where('seq', '>=', 7).where('seq', '<=', 9).execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ firstBadSeq: 7, problem: 'seq 7 missing (deleted?); 3 rows are gone before seq 10' });
    });

    it('the first row deleted', async () => {
      await store.db.deleteFrom('audit_events').where('seq', '=', 1).execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'seq 1 missing (deleted?)' });
    });

    it('a deleted tail', async () => {
      await store.db.deleteFrom('audit_events').where('seq', '>=', 15).execute();
      expect(await verifyAuditLog(store, key)).toEqual({
        ok: false, checked: 14, lastSeq: 14, firstBadSeq: 15,
        problem: 'seq 15 missing: the signed head says the log ends at seq 20 (tail deleted?)',
      });
    });

    it('every row deleted', async () => {
      await store.db.deleteFrom('audit_events').execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, checked: 0, firstBadSeq: 1 });
    });

    it('a deleted tail with the head rewound by someone without the key', async () => {
      const last = await row(14);
      await store.db.deleteFrom('audit_events').where('seq', '>=', 15).execute();
      await setHead({ seq: 14, hash: last.hash, mac: headMac(wrongKey, 14, last.hash) });
      expect(await verifyAuditLog(store, key)).toEqual({
        ok: false, checked: 14, lastSeq: 14, firstBadSeq: 15,
        problem: 'the head at seq 14 is not signed by this key: it was rewritten without the key (rows after seq 14 deleted?)',
      });
      // Nor does the writer paper over it by signing a fresh head on top.
      await expect(createAuditLog(store, { key }).append(event(99))).rejects.toThrow(/not signed by this key/);
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, firstBadSeq: 15 });
    });

    it('a deleted tail with the head reset to its unwritten state', async () => {
      await store.db.deleteFrom('audit_events').where('seq', '>=', 15).execute();
      await setHead({ seq: 0, hash: '', mac: '' });
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'seq 1 is beyond the head at seq 0 (inserted, or the head rewound?)' });
    });

    it('an edited head hash', async () => {
      const current = await head();
      await setHead({ seq: 20, hash: '0'.repeat(64), mac: current.mac });
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, checked: 20, firstBadSeq: 21, problem: "the head's hash does not match seq 20 (head edited?)" });
    });

    it('a deleted head row', async () => {
      await store.db.deleteFrom('audit_head').execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, checked: 20, firstBadSeq: 21, problem: 'the audit head row is missing (deleted?)' });
    });

    it('a row inserted in the middle, later rows renumbered', async () => {
      // Two steps, because both databases check the primary key row by row.
      await store.db.updateTable('audit_events').set((eb) => ({ seq: eb('seq', '+', 1_000_000) })).where('seq', '>=', 7).execute();
      await store.db.updateTable('audit_events').set((eb) => ({ seq: eb('seq', '-', 999_999) })).where('seq', '>=', 1_000_000).execute();
      await store.db.insertInto('audit_events').values(forged(7, (await row(6)).hash, wrongKey)).execute();
      expect(await verifyAuditLog(store, key)).toEqual({ ok: false, checked: 6, lastSeq: 6, firstBadSeq: 7, problem: 'seq 7: hash does not match its content (edited?)' });
    });

    it('a row appended beyond the head without the key', async () => {
      await store.db.insertInto('audit_events').values(forged(21, (await row(20)).hash, wrongKey)).execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, checked: 20, firstBadSeq: 21, problem: 'seq 21: hash does not match its content (edited?)' });
    });

    it('a correctly signed row the head does not cover', async () => {
      await store.db.insertInto('audit_events').values(forged(21, (await row(20)).hash, key)).execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, checked: 21, firstBadSeq: 21, problem: 'seq 21 is beyond the head at seq 20 (inserted, or the head rewound?)' });
    });

    it('two rows swapped', async () => {
      const [five, nine] = [await row(5), await row(9)];
      await store.db.deleteFrom('audit_events').where('seq', 'in', [5, 9]).execute();
      await store.db.insertInto('audit_events').values([{ ...nine, seq: 5 }, { ...five, seq: 9 }]).execute();
      expect(await verifyAuditLog(store, key)).toEqual({ ok: false, checked: 4, lastSeq: 4, firstBadSeq: 5, problem: 'seq 5: previous hash does not match seq 4 (reordered or inserted?)' });
    });

    it('two adjacent rows swapped with their seqs', async () => {
      await store.db.updateTable('audit_events').set({ seq: 1_000_011 }).where('seq', '=', 11).execute();
      await store.db.updateTable('audit_events').set({ seq: 11 }).where('seq', '=', 12).execute();
      await store.db.updateTable('audit_events').set({ seq: 12 }).where('seq', '=', 1_000_011).execute();
      expect(await verifyAuditLog(store, key)).toMatchObject({ ok: false, checked: 10, firstBadSeq: 11 });
    });

    it('the wrong key', async () => {
      expect(await verifyAuditLog(store, wrongKey)).toEqual({
        ok: false, checked: 0, lastSeq: 0, firstBadSeq: 1,
        problem: 'seq 1: hash does not match its content (edited?, or not the key this log was written with)',
      });
    });
  });

  it('passes while other connections keep appending', async () => {
    await appendMany(createAuditLog(store, { key }), 3000);
    const writer = createAuditLog(db.open(), { key, maxBatch: 50 });
    let writing = true;
    const appending = (async () => {
      for (let round = 0; writing; round++) await appendMany(writer, 100, round * 100);
    })();
    try {
      for (let i = 0; i < 3; i++) expect(await verifyAuditLog(store, key)).toMatchObject({ ok: true });
    } finally {
      writing = false;
      await appending;
    }
    const final = await verifyAuditLog(store, key);
    expect(final).toMatchObject({ ok: true });
    expect(final.checked).toBeGreaterThan(3000);
  });
});
