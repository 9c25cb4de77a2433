import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, postgresUrl } from '../../test/support/postgres.js';
import type { ScratchDatabase } from '../../test/support/postgres.js';
import { MIGRATION_NAMES, isReady, loadOrCreateSecretKey, migrateToLatest, migrationStatus, openStore } from './index.js';
import type { Store } from './index.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ironcode-store-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.each(['sqlite', 'postgres'] as const)('store on %s', (dialect) => {
  let scratch: ScratchDatabase | undefined;
  let store: Store;

  beforeAll(async () => {
    if (dialect === 'postgres') scratch = await createScratchDatabase(postgresUrl());
    store = openStore({ dataDir: tempDir(), databaseUrl: scratch?.url });
  });
  afterAll(async () => {
    await store.close();
    await scratch?.drop();
  });

  it('reports pending migrations, applies them once, then is up to date and ready', async () => {
    expect(store.dialect).toBe(dialect);
    expect(await migrationStatus(store)).toEqual({ applied: [], pending: [...MIGRATION_NAMES] });
    expect(await isReady(store)).toMatchObject({ ready: false, reason: expect.stringContaining('migrations pending') });
    const first = await migrateToLatest(store);
    expect(first.applied).toEqual([...MIGRATION_NAMES]);
    const second = await migrateToLatest(store);
    expect(second).toEqual({ applied: [], current: [...MIGRATION_NAMES] });
    expect(await isReady(store)).toEqual({ ready: true });
  });

  it('reads bigint columns back as numbers and keeps the audit head row', async () => {
    const head = await store.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    expect(head).toEqual({ id: 1, seq: 0, hash: '', mac: '' });
    const big = 1_795_000_000_000;
    await store.db
      .insertInto('signing_keys')
      .values({ kid: 'k1', alg: 'ES256', public_jwk: '{}', private_jwk: 'x', created_at: big, retire_at: big + 1, expires_at: big + 2 })
      .execute();
    const row = await store.db.selectFrom('signing_keys').select(['created_at', 'expires_at']).where('kid', '=', 'k1').executeTakeFirstOrThrow();
    expect(row).toEqual({ created_at: big, expires_at: big + 2 });
    expect(typeof row.created_at).toBe('number');
  });

  it('enforces the unique username and the foreign keys', async () => {
    const user = { username: 'dup', password_hash: 'x', roles: '[]', created_at: 1, updated_at: 1, password_changed_at: 1 };
    await store.db.insertInto('users').values({ id: 'usr_1', ...user }).execute();
    await expect(store.db.insertInto('users').values({ id: 'usr_2', ...user }).execute()).rejects.toThrow();
    await expect(
      store.db.insertInto('sessions').values({ id: 'ses_1', user_id: 'usr_missing', created_at: 1, expires_at: 2, last_refresh_at: null, revoked_at: null, revoked_reason: null, ip: null, user_agent: null }).execute(),
    ).rejects.toThrow();
  });
});

describe('PostgreSQL store', () => {
  it('migrates safely from two processes at once (Kysely takes a lock)', async () => {
    const scratch = await createScratchDatabase(postgresUrl());
    const stores = [0, 1, 2].map(() => openStore({ dataDir: tempDir(), databaseUrl: scratch.url }));
    try {
      const results = await Promise.all(stores.map((store) => migrateToLatest(store)));
      expect(results.flatMap((result) => result.applied)).toEqual([...MIGRATION_NAMES]);
      for (const result of results) expect(result.current).toEqual([...MIGRATION_NAMES]);
    } finally {
      for (const store of stores) await store.close();
      await scratch.drop();
    }
  });

  it('says when the server is unreachable', async () => {
    const dead = openStore({ dataDir: tempDir(), databaseUrl: 'postgres://nobody@127.0.0.1:1/none' });
    try {
      expect(await isReady(dead)).toMatchObject({ ready: false, reason: expect.stringContaining('unreachable') });
    } finally {
      await dead.close();
    }
  });
});

describe('openStore', () => {
  it('refuses URLs that are not PostgreSQL, naming the variable', () => {
    expect(() => openStore({ dataDir: tempDir(), databaseUrl: 'mysql://x@y/z' })).toThrow(/IRONCODE_DATABASE_URL has scheme mysql:/);
    expect(() => openStore({ dataDir: tempDir(), databaseUrl: 'not a url' })).toThrow(/IRONCODE_DATABASE_URL is not a URL/);
  });

  it('hides the password in the location it reports', async () => {
    const store = openStore({ dataDir: tempDir(), databaseUrl: 'postgres://me:hunter2@127.0.0.1:1/db' });
    expect(store.location).not.toContain('hunter2');
    expect(store.location).toContain('***');
    await store.close();
  });

  it('creates the SQLite file in a private data directory', async () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const store = openStore({ dataDir });
    await migrateToLatest(store);
    expect(store.location).toBe(path.join(dataDir, 'ironcode.db'));
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
    expect(mode.rows[0]?.journal_mode).toBe('wal');
    await store.close();
  });
});

describe('loadOrCreateSecretKey', () => {
  const source = (dataDir: string, env: NodeJS.ProcessEnv = {}) => ({ dataDir, fileName: 'test.key', envName: 'IRONCODE_TEST_KEY', env });

  it('generates a 0600 key file once and reads the same key afterwards', () => {
    const dataDir = tempDir();
    const first = loadOrCreateSecretKey(source(dataDir));
    expect(first.created).toBe(true);
    expect(first.key.length).toBe(32);
    expect(statSync(path.join(dataDir, 'test.key')).mode & 0o777).toBe(0o600);
    const second = loadOrCreateSecretKey(source(dataDir));
    expect(second.created).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('prefers the environment, in hex or base64, and refuses short keys', () => {
    const hex = 'ab'.repeat(32);
    expect(loadOrCreateSecretKey(source(tempDir(), { IRONCODE_TEST_KEY: hex })).key.toString('hex')).toBe(hex);
    const b64 = Buffer.alloc(40, 3).toString('base64');
    expect(loadOrCreateSecretKey(source(tempDir(), { IRONCODE_TEST_KEY: b64 })).origin).toBe('env:IRONCODE_TEST_KEY');
    expect(() => loadOrCreateSecretKey(source(tempDir(), { IRONCODE_TEST_KEY: 'c2hvcnQ=' }))).toThrow(/IRONCODE_TEST_KEY must hold at least 32 bytes/);
  });

  it('refuses a key file others can read', () => {
    const dataDir = tempDir();
    writeFileSync(path.join(dataDir, 'test.key'), Buffer.alloc(32, 1).toString('base64'), { mode: 0o644 });
    expect(() => loadOrCreateSecretKey(source(dataDir))).toThrow(/readable by others.*chmod 600/);
  });
});

describe('migrateToLatest on an unreachable database', () => {
  it('fails with UnavailableError naming the store without its password', async () => {
    const dead = openStore({ dataDir: tempDir(), databaseUrl: 'postgres://me:hunter2@127.0.0.1:1/none' });
    try {
      const error = await migrateToLatest(dead).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ code: 'IRON_UNAVAILABLE' });
      expect((error as Error).message).toMatch(/^database migration failed on postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/none: /);
      expect((error as Error).message).not.toContain('hunter2');
    } finally {
      await dead.close();
    }
  });
});
