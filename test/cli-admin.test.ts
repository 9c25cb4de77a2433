/**
 * `ironcode db …`, `ironcode admin …` and `ironcode audit …` as an operator runs them:
 * real processes on a real SQLite file or a real PostgreSQL database, checked through
 * their output and through the store itself.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import type { CliResult } from './run-cli.js';
import { createScratchDatabase, postgresUrl } from './support/postgres.js';
import type { ScratchDatabase } from './support/postgres.js';
import { call, login, startServer } from './support/server.js';
import type { Dialect } from './support/server.js';

const DIALECTS: Dialect[] = ['sqlite', 'postgres'];
const API_KEY = /^ironcode_[0-9A-Za-z]{56}$/;
const ALICE_PASSWORD = 'correct horse battery staple';
const BOB_PASSWORD = 'quiet river 42 stones';
const CLI_TIMEOUT = 120_000;

type Row = Record<string, unknown>;

/** A data dir (and, for PostgreSQL, a scratch database) with the CLI and raw SQL pointed at it. */
interface TestStore {
  dialect: Dialect;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  cli(args: readonly string[], input?: string): Promise<CliResult>;
  /** Raw SQL with `?` placeholders, straight at the database: how the tests look behind the CLI's back. */
  sql(text: string, params?: unknown[]): Promise<Row[]>;
  dispose(): Promise<void>;
}

/** A copy of `template`'s database, named like the scratch databases so stale ones are recognisable. */
async function copyDatabase(templateUrl: string): Promise<ScratchDatabase> {
  const template = new URL(templateUrl).pathname.slice(1);
  const name = `ironcode_t_${randomBytes(8).toString('hex')}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  // 55006 (object_in_use): a session on the template has not quite gone yet; it will.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      break;
    } catch (error) {
      if (attempt >= 20 || (error as { code?: string }).code !== '55006') throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/** A fresh store, empty or a copy of `template` (which must not be in use). */
async function createStore(dialect: Dialect, template?: TestStore): Promise<TestStore> {
  const work = mkdtempSync(path.join(tmpdir(), 'ironcode-cli-admin-'));
  const dataDir = path.join(work, 'data');
  if (template) cpSync(template.dataDir, dataDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.IRONCODE_DATABASE_URL;
  delete env.IRONCODE_REDIS_URL;
  let scratch: ScratchDatabase | undefined;
  if (dialect === 'postgres') scratch = template?.env.IRONCODE_DATABASE_URL ? await copyDatabase(template.env.IRONCODE_DATABASE_URL) : await createScratchDatabase(postgresUrl());
  if (scratch) env.IRONCODE_DATABASE_URL = scratch.url;
  return {
    dialect,
    dataDir,
    env,
    // The working directory is the temp dir, so no ironcode.config.yaml of the repo is picked up.
    cli: (args, input) => runCli([...args, '--data-dir', dataDir], { cwd: work, env, ...(input === undefined ? {} : { input }), timeoutMs: CLI_TIMEOUT }),
    async sql(text, params = []) {
      if (scratch === undefined) {
        const db = new Database(path.join(dataDir, 'ironcode.db'));
        try {
          db.pragma('busy_timeout = 10000');
          const statement = db.prepare(text);
          if (statement.reader) return statement.all(...params) as Row[];
          statement.run(...params);
          return [];
        } finally {
          db.close();
        }
      }
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        let n = 0;
        const result = await client.query(text.replace(/\?/g, () => `$${++n}`), params);
        return result.rows as Row[];
      } finally {
        await client.end();
      }
    },
    async dispose() {
      await scratch?.drop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Every byte of every file under dir, for looking for secrets at rest. */
function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  const found: { file: string; bytes: Buffer }[] = [];
  for (const entry of readdirSync(dir)) {
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) found.push(...filesUnder(file));
    else found.push({ file, bytes: readFileSync(file) });
  }
  return found;
}

/** Every row of every table, as text. */
async function dumpTables(store: TestStore): Promise<string> {
  const tables =
    store.dialect === 'sqlite'
      ? (await store.sql("SELECT name FROM sqlite_master WHERE type = 'table'")).map((row) => String(row.name))
      : (await store.sql("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'")).map((row) => String(row.name));
  expect(tables).toContain('api_keys');
  const parts: string[] = [];
  for (const table of tables) parts.push(JSON.stringify(await store.sql(`SELECT * FROM ${table}`)));
  return parts.join('\n');
}

const auditCount = async (store: TestStore) => Number((await store.sql('SELECT COUNT(*) AS n FROM audit_events'))[0]?.n);

function expectOk(result: CliResult): CliResult {
  expect(result.code, `exit code\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);
  return result;
}

function jsonLines(text: string): Row[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Row);
}

describe.each(DIALECTS)('ironcode db, admin and audit on %s', (dialect) => {
  let store: TestStore;
  const keys: { id: string; key: string }[] = [];

  beforeAll(async () => {
    store = await createStore(dialect);
  });
  afterAll(async () => {
    await store?.dispose();
  });

  it('db status lists the migrations as pending; db migrate applies them, then says up to date', { timeout: CLI_TIMEOUT }, async () => {
    const pending = expectOk(await store.cli(['db', 'status']));
    expect(pending.stdout).toMatch(/^pending\s+0001-identity-and-audit\npending\s+0002-approvals$/m);
    expect(pending.stdout).not.toMatch(/^applied/m);

    const first = expectOk(await store.cli(['db', 'migrate']));
    expect(first.stdout).toMatch(/: applied 0001-identity-and-audit, 0002-approvals\n$/);
    const again = expectOk(await store.cli(['db', 'migrate']));
    expect(again.stdout).toMatch(/: up to date \(2 migrations\)\n$/);

    const status = expectOk(await store.cli(['db', 'status']));
    expect(status.stdout).toBe('applied  0001-identity-and-audit\napplied  0002-approvals\n');
    // The migration wrote no audit events; the log starts empty.
    expect(await auditCount(store)).toBe(0);
  });

  it('admin create-user takes the password from --password or from standard input', { timeout: CLI_TIMEOUT }, async () => {
    const alice = expectOk(await store.cli(['admin', 'create-user', '--username', 'alice', '--password', ALICE_PASSWORD, '--role', 'operator']));
    expect(alice.stdout).toMatch(/^created user alice \(usr_[0-9A-Za-z]+\) with roles: operator\n$/);

    const bob = expectOk(await store.cli(['admin', 'create-user', '--username', 'Bob', '--role', 'viewer'], `${BOB_PASSWORD}\n`));
    expect(bob.stdout).toMatch(/^created user bob \(usr_[0-9A-Za-z]+\) with roles: viewer\n$/);

    const rows = await store.sql('SELECT username, roles, password_hash FROM users ORDER BY username');
    expect(rows.map((row) => [row.username, JSON.parse(String(row.roles))])).toEqual([
      ['alice', ['operator']],
      ['bob', ['viewer']],
    ]);
    // Hashes, never the passwords.
    for (const row of rows) expect(String(row.password_hash)).toMatch(/^scrypt\$/);
    const dump = await dumpTables(store);
    expect(dump).not.toContain(ALICE_PASSWORD);
    expect(dump).not.toContain(BOB_PASSWORD);
  });

  it('refuses a weak password, an unknown role and a duplicate user with a message naming the problem, writing nothing', { timeout: CLI_TIMEOUT }, async () => {
    const before = expectOk(await store.cli(['admin', 'list-users', '--json'])).stdout;
    const eventsBefore = await auditCount(store);

    const weak = await store.cli(['admin', 'create-user', '--username', 'carol', '--password', 'short', '--role', 'operator']);
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/password must be at least 12 characters/);

    const role = await store.cli(['admin', 'create-user', '--username', 'carol', '--password', ALICE_PASSWORD, '--role', 'wizard']);
    expect(role.code).not.toBe(0);
    expect(role.stderr).toMatch(/unknown role wizard/);

    const duplicate = await store.cli(['admin', 'create-user', '--username', 'ALICE', '--password', 'another fine passphrase', '--role', 'admin']);
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr).toMatch(/a user named alice already exists/);

    const emptyStdin = await store.cli(['admin', 'create-user', '--username', 'dave', '--role', 'viewer'], '');
    expect(emptyStdin.code).not.toBe(0);
    expect(emptyStdin.stderr).toMatch(/password/);

    for (const result of [weak, role, duplicate, emptyStdin]) expect(result.stdout).toBe('');
    expect(expectOk(await store.cli(['admin', 'list-users', '--json'])).stdout).toBe(before);
    expect(await auditCount(store)).toBe(eventsBefore);
    // alice still has her own password and role.
    const alice = await store.sql('SELECT roles FROM users WHERE username = ?', ['alice']);
    expect(JSON.parse(String(alice[0]?.roles))).toEqual(['operator']);
  });

  it('admin list-users prints a line per user, and --json the views without secrets', { timeout: CLI_TIMEOUT }, async () => {
    const text = expectOk(await store.cli(['admin', 'list-users']));
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^usr_[0-9A-Za-z]+\s+alice\s+operator\s+-\s+last login never$/);
    expect(lines[1]).toMatch(/^usr_[0-9A-Za-z]+\s+bob\s+viewer\s+-\s+last login never$/);

    const users = JSON.parse(expectOk(await store.cli(['admin', 'list-users', '--json'])).stdout) as Row[];
    expect(users.map((user) => user.username)).toEqual(['alice', 'bob']);
    expect(users[0]).toMatchObject({ roles: ['operator'], disabled: false, locked: false, mfaEnabled: false, lastLoginAt: null });
    for (const user of users) expect(Object.keys(user).sort()).toEqual(['createdAt', 'disabled', 'id', 'lastLoginAt', 'locked', 'mfaEnabled', 'roles', 'username']);
  });

  it('admin create-api-key prints the key once, on the last line, and keeps only a hash of it', { timeout: CLI_TIMEOUT }, async () => {
    const started = Date.now();
    const result = expectOk(await store.cli(['admin', 'create-api-key', '--name', 'ci-bot', '--role', 'viewer', '--expires', '30d']));
    const lines = result.stdout.trimEnd().split('\n');
    const key = lines.at(-1) ?? '';
    expect(key).toMatch(API_KEY);
    // Exactly once: nowhere else in the output.
    expect(result.stdout.split(key)).toHaveLength(2);
    expect(result.stderr).not.toContain(key);
    const id = /^created API key (key_[0-9A-Za-z]{16}) "ci-bot" \(service key\); roles: viewer; permissions: none; expires: (\S+)$/.exec(lines[0] ?? '');
    expect(id, result.stdout).not.toBeNull();
    const expires = Date.parse(id?.[2] ?? '');
    expect(expires - started).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(expires - Date.now()).toBeLessThanOrEqual(30 * 86_400_000);
    keys.push({ id: id?.[1] ?? '', key });

    // Neither the key nor its secret half is anywhere at rest: not in any file of the
    // data dir (the SQLite file, its WAL, the key files), not in any table.
    const secret = key.slice('ironcode_'.length + 16);
    for (const { file, bytes } of filesUnder(store.dataDir)) {
      expect(bytes.includes(Buffer.from(key)), file).toBe(false);
      expect(bytes.includes(Buffer.from(secret)), file).toBe(false);
    }
    const dump = await dumpTables(store);
    expect(dump).toContain(id?.[1]);
    expect(dump).not.toContain(secret);

    const second = expectOk(await store.cli(['admin', 'create-api-key', '--name', 'monitor', '--role', 'monitoring']));
    const secondKey = second.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(secondKey).toMatch(API_KEY);
    expect(secondKey).not.toBe(key);
    keys.push({ id: /created API key (key_\w+)/.exec(second.stdout)?.[1] ?? '', key: secondKey });
  });

  it('admin list-api-keys shows the keys, never their secrets; revoke-api-key revokes by id', { timeout: CLI_TIMEOUT }, async () => {
    const [ci, monitor] = keys;
    const listed = expectOk(await store.cli(['admin', 'list-api-keys']));
    expect(listed.stdout).toMatch(new RegExp(`^${ci?.id}\\s+ci-bot\\s+active\\s+roles viewer\\s+expires \\S+Z\\s+last used never$`, 'm'));
    expect(listed.stdout).toMatch(new RegExp(`^${monitor?.id}\\s+monitor\\s+active\\s+roles monitoring\\s+expires never\\s+last used never$`, 'm'));
    const json = expectOk(await store.cli(['admin', 'list-api-keys', '--json'])).stdout;
    expect((JSON.parse(json) as Row[]).map((view) => view.id).sort()).toEqual([ci?.id, monitor?.id].sort());
    for (const { key } of keys) {
      expect(listed.stdout).not.toContain(key.slice(25));
      expect(json).not.toContain(key.slice(25));
    }

    const revoked = expectOk(await store.cli(['admin', 'revoke-api-key', ci?.id ?? '']));
    expect(revoked.stdout).toMatch(new RegExp(`^revoked API key ${ci?.id} "ci-bot" at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\n$`));
    const after = expectOk(await store.cli(['admin', 'list-api-keys']));
    expect(after.stdout).toMatch(new RegExp(`^${ci?.id}\\s+ci-bot\\s+revoked\\s`, 'm'));
    expect(after.stdout).toMatch(new RegExp(`^${monitor?.id}\\s+monitor\\s+active\\s`, 'm'));

    const unknown = await store.cli(['admin', 'revoke-api-key', 'key_0000000000000000']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no API key key_0000000000000000/);
  });

  it('admin set-roles replaces a user’s roles; an unknown user or role is refused', { timeout: CLI_TIMEOUT }, async () => {
    const set = expectOk(await store.cli(['admin', 'set-roles', '--username', 'alice', '--role', 'viewer', '--role', 'ci']));
    expect(set.stdout).toBe('alice now has roles: viewer, ci\n');
    const rows = await store.sql('SELECT roles FROM users WHERE username = ?', ['alice']);
    expect(JSON.parse(String(rows[0]?.roles))).toEqual(['viewer', 'ci']);

    const nobody = await store.cli(['admin', 'set-roles', '--username', 'zed', '--role', 'viewer']);
    expect(nobody.code).not.toBe(0);
    expect(nobody.stderr).toMatch(/no user named zed/);
    const badRole = await store.cli(['admin', 'set-roles', '--username', 'alice', '--role', 'root']);
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/unknown role root/);
    const unchanged = await store.sql('SELECT roles FROM users WHERE username = ?', ['alice']);
    expect(JSON.parse(String(unchanged[0]?.roles))).toEqual(['viewer', 'ci']);

    // Back to operator for what follows.
    expectOk(await store.cli(['admin', 'set-roles', '--username', 'alice', '--role', 'operator']));
  });

  it('audit tail shows the admin events oldest first, as text and as JSON Lines', { timeout: CLI_TIMEOUT }, async () => {
    const expected = ['user.create', 'user.create', 'api-key.create', 'api-key.create', 'api-key.revoke', 'user.roles', 'user.roles'];
    expect(await auditCount(store)).toBe(expected.length);

    const text = expectOk(await store.cli(['audit', 'tail', '-n', '5']));
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expected.slice(-5).forEach((action, i) => {
      expect(lines[i]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  #${i + 3}  allowed  system:cli  ${action.replace('.', '\\.')}  `));
    });

    const json = jsonLines(expectOk(await store.cli(['audit', 'tail', '-n', '5', '--json'])).stdout);
    expect(json.map((event) => event.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(json.map((event) => event.action)).toEqual(expected.slice(-5));
    for (const event of json) expect(event).toMatchObject({ principal: 'system:cli', principalKind: 'service', decision: 'allowed' });
    expect(json[0]).toMatchObject({ resource: `api-key:${keys[0]?.id}`, args: { name: 'ci-bot', roles: ['viewer'] } });

    const all = jsonLines(expectOk(await store.cli(['audit', 'tail', '--json', '--action', 'user.*'])).stdout);
    expect(all.map((event) => event.action)).toEqual(['user.create', 'user.create', 'user.roles', 'user.roles']);
    expect((all[0]?.args as Row).username).toBe('alice');
  });

  it('audit verify exits 0 on the intact log', { timeout: CLI_TIMEOUT }, async () => {
    const verify = expectOk(await store.cli(['audit', 'verify']));
    expect(verify.stdout).toBe('audit log intact: 7 events, last seq 7\n');
  });

  it('runs beside a server on the same store: the server locks a user out, the CLI unlocks her; both audit, and the chain holds', { timeout: 180_000 }, async () => {
    const server = await startServer({ reuse: { dataDir: store.dataDir, env: store.env }, env: { IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP: '1000' } });
    try {
      // Users exist, so no administrator was created.
      expect(server.stdout()).not.toMatch(/password:/);
      // bob's password came from standard input, intact.
      await login(server, 'bob', BOB_PASSWORD);
      // The revoked key is refused; the other one works.
      expect((await call(server, 'GET', '/auth/me', { token: keys[0]?.key ?? '' })).status).toBe(401);
      const monitor = await call(server, 'GET', '/metrics', { token: keys[1]?.key ?? '' });
      expect(monitor.status).toBe(200);

      for (let i = 0; i < 5; i++) expect((await call(server, 'POST', '/auth/login', { body: { username: 'alice', password: `wrong guess ${i}` } })).status).toBe(401);
      const locked = await call(server, 'POST', '/auth/login', { body: { username: 'alice', password: ALICE_PASSWORD } });
      expect(locked.status).toBe(401);
      expect(locked.body.detail).toMatch(/locked until/);
      const listed = expectOk(await store.cli(['admin', 'list-users']));
      expect(listed.stdout).toMatch(/^usr_\w+\s+alice\s+operator\s+locked\s/m);

      // The CLI writes while the server writes: failed logins stream in meanwhile.
      const serverEvents = Array.from({ length: 12 }, (_, i) => call(server, 'POST', '/auth/login', { body: { username: `nobody-${i}`, password: 'irrelevant' } }));
      const [unlock, created] = await Promise.all([
        store.cli(['admin', 'unlock-user', '--username', 'alice']),
        store.cli(['admin', 'create-api-key', '--name', 'beside-server', '--role', 'viewer']),
      ]);
      expectOk(unlock);
      expectOk(created);
      expect(unlock.stdout).toBe('alice unlocked\n');
      const answered = await Promise.all(serverEvents);
      for (const response of answered) expect(response.status).toBe(401);

      await login(server, 'alice', ALICE_PASSWORD);
      const unknownUser = await store.cli(['admin', 'unlock-user', '--username', 'zed']);
      expect(unknownUser.code).not.toBe(0);
      expect(unknownUser.stderr).toMatch(/no user named zed/);

      // Verified while the server is still running, then again after it stopped.
      expect(expectOk(await store.cli(['audit', 'verify'])).stdout).toMatch(/^audit log intact: \d+ events/);
      const events = await store.sql('SELECT seq, principal, action, request_id, ip FROM audit_events ORDER BY seq');
      const byCli = events.filter((event) => event.principal === 'system:cli');
      const byServer = events.filter((event) => event.request_id !== null);
      expect(byCli.map((event) => event.action)).toEqual(expect.arrayContaining(['user.update', 'api-key.create']));
      expect(byServer.map((event) => event.action)).toEqual(expect.arrayContaining(['auth.login', 'auth.lockout', 'auth.api-key']));
      for (const response of answered) expect(byServer.map((event) => event.request_id)).toContain(response.headers.get('x-request-id'));
      expect(events.map((event) => Number(event.seq))).toEqual(events.map((_, i) => i + 1));

      expect(await server.stop()).toBe(0);
      expect(expectOk(await store.cli(['audit', 'verify'])).stdout).toBe(`audit log intact: ${events.length} events, last seq ${events.length}\n`);
    } finally {
      await server.dispose();
    }
  });
});

describe.each(DIALECTS)('audit verify on a tampered %s store', (dialect) => {
  let seed: TestStore;
  /** Four events written by four CLI processes at once; every case tampers with its own copy. */
  beforeAll(async () => {
    seed = await createStore(dialect);
    expectOk(await seed.cli(['db', 'migrate']));
    const created = await Promise.all([1, 2, 3, 4].map((i) => seed.cli(['admin', 'create-api-key', '--name', `seed-${i}`, '--role', 'viewer'])));
    created.forEach(expectOk);
    expect(expectOk(await seed.cli(['audit', 'verify'])).stdout).toBe('audit log intact: 4 events, last seq 4\n');
  }, CLI_TIMEOUT);
  afterAll(async () => {
    await seed?.dispose();
  });

  const tampering: { what: string; firstBad: number; tamper(store: TestStore): Promise<unknown> }[] = [
    { what: 'a row’s reason edited', firstBad: 3, tamper: (store) => store.sql("UPDATE audit_events SET reason = 'nothing to see here' WHERE seq = 3") },
    { what: 'a middle row deleted', firstBad: 2, tamper: (store) => store.sql('DELETE FROM audit_events WHERE seq = 2') },
    {
      what: 'two rows swapping content',
      firstBad: 3,
      async tamper(store) {
        await store.sql('UPDATE audit_events SET seq = -1 WHERE seq = 3');
        await store.sql('UPDATE audit_events SET seq = 3 WHERE seq = 4');
        await store.sql('UPDATE audit_events SET seq = 4 WHERE seq = -1');
      },
    },
  ];

  it.concurrent.for(tampering)('exits 1 naming the first bad seq after $what', { timeout: CLI_TIMEOUT }, async ({ firstBad, tamper }, { expect }) => {
    const store = await createStore(dialect, seed);
    try {
      expect(expectOk(await store.cli(['audit', 'verify'])).stdout).toBe('audit log intact: 4 events, last seq 4\n');
      await tamper(store);
      const verify = await store.cli(['audit', 'verify']);
      expect(verify.code, `${verify.stdout}${verify.stderr}`).toBe(1);
      expect(verify.stdout).toMatch(new RegExp(`^audit log BROKEN at seq ${firstBad}: `));
      // Only the first bad seq is named.
      expect(verify.stdout.match(/BROKEN at seq \d+/g)).toHaveLength(1);
    } finally {
      await store.dispose();
    }
  });
});
