/**
 * The life of a real `ironcode serve` process: first start, restart, graceful
 * shutdown under load, a crash (SIGKILL) under load, two instances sharing
 * PostgreSQL and Redis, and refusing to start on a store or Redis it cannot reach.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { postgresUrl, redisUrl } from './support/postgres.js';
import { processesWith } from './support/process-scan.js';
import { call, login, startServer } from './support/server.js';
import type { Dialect, RunningServer } from './support/server.js';

const DIALECTS: Dialect[] = ['sqlite', 'postgres'];
const GENEROUS_LIMITS = { IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP: '100000', IRONCODE_SERVER_RATE_LIMIT_PER_IP: '100000', IRONCODE_SERVER_RATE_LIMIT_PER_PRINCIPAL: '100000' };
/** This file's own Redis database, flushed before use, so no other test shares its counters. */
const REDIS_DB = 13;

type Response = Awaited<ReturnType<typeof call>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The audit rows, read straight from the store of a (stopped or running) server. */
async function auditRows(server: { dataDir: string; env: NodeJS.ProcessEnv }): Promise<{ seq: number; action: string; requestId: string | null }[]> {
  const text = 'SELECT seq, action, request_id FROM audit_events ORDER BY seq';
  let rows: Record<string, unknown>[];
  const url = server.env.IRONCODE_DATABASE_URL;
  if (url === undefined || url === '') {
    const db = new Database(path.join(server.dataDir, 'ironcode.db'), { readonly: true });
    try {
      rows = db.prepare(text).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      rows = (await client.query(text)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }
  return rows.map((row) => ({ seq: Number(row.seq), action: String(row.action), requestId: row.request_id === null ? null : String(row.request_id) }));
}

function cli(server: { dataDir: string; env: NodeJS.ProcessEnv }, args: readonly string[]) {
  return runCli([...args, '--data-dir', server.dataDir], { env: server.env, cwd: server.dataDir, timeoutMs: 60_000 });
}

/** `audit verify` exits 0, and every answered request (by its x-request-id) left its event in the log. */
async function expectEveryAnsweredRequestAudited(server: RunningServer, requestIds: readonly (string | string[] | null | undefined)[]): Promise<void> {
  const verify = await cli(server, ['audit', 'verify']);
  expect(verify.code, `${verify.stdout}${verify.stderr}`).toBe(0);
  expect(verify.stdout).toMatch(/^audit log intact: \d+ events/);
  const logged = new Set((await auditRows(server)).map((row) => row.requestId));
  const missing = requestIds.filter((id) => typeof id !== 'string' || !logged.has(id));
  expect(missing, 'answered requests without an audit event').toEqual([]);
}

function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((entry) => {
    const file = path.join(dir, entry);
    return statSync(file).isDirectory() ? filesUnder(file) : [{ file, bytes: readFileSync(file) }];
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each(DIALECTS)('first start and restart on %s', (dialect) => {
  it('prints the generated admin password on the first start only; it still works after a restart', { timeout: 90_000 }, async () => {
    const first = await startServer({ dialect });
    try {
      const out = first.stdout();
      expect(out.match(/password:/g)).toHaveLength(1);
      expect(out).toMatch(/created the first administrator/);
      expect(first.admin.password).toMatch(/^[0-9A-Za-z]{20,}$/);
      expect(out).toMatch(new RegExp(`listening on http://127\\.0\\.0\\.1:\\d+ \\(MCP at http://127\\.0\\.0\\.1:\\d+/mcp; store: ${dialect} `));
      await login(first, 'admin', first.admin.password);
      expect(await first.stop()).toBe(0);
      // "Not stored anywhere readable": not in any file of the data dir.
      for (const { file, bytes } of filesUnder(first.dataDir)) expect(bytes.includes(Buffer.from(first.admin.password)), file).toBe(false);

      const second = await startServer({ reuse: { dataDir: first.dataDir, env: first.env } });
      try {
        expect(second.stdout()).not.toMatch(/password/);
        expect(second.stdout()).not.toMatch(/administrator/);
        expect(second.stdout()).toMatch(/listening on /);
        const session = await login(second, 'admin', first.admin.password);
        const users = await call(second, 'GET', '/users', { token: session.access_token });
        expect((users.body.users as { username: string }[]).map((user) => user.username)).toEqual(['admin']);
        expect(await second.stop()).toBe(0);
      } finally {
        await second.dispose();
      }
      const verify = await cli(first, ['audit', 'verify']);
      expect(verify.code, verify.stderr).toBe(0);
    } finally {
      await first.dispose();
    }
  });
});

/**
 * A POST whose headers reach the server now and whose body follows on release(): with
 * "Expect: 100-continue" the server's "100 Continue" proves it has the request, so the
 * request is in flight for exactly as long as the test wants, whatever the machine's speed.
 */
function heldRequest(server: { url: string }, urlPath: string, body: unknown, agent: http.Agent) {
  const url = new URL(urlPath, server.url);
  const payload = JSON.stringify(body);
  const request = http.request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), expect: '100-continue' },
  });
  const received = new Promise<void>((resolve) => request.once('continue', () => resolve()));
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    request.on('error', reject);
    request.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.once('error', reject);
    });
  });
  request.flushHeaders();
  return { received, response, release: () => request.end(payload) };
}

/**
 * Twenty concurrent logins, each on its own connection and each seen by the server
 * ("100 Continue"): ten already running with their bodies sent, ten waiting for
 * their bodies. All twenty are in flight when this resolves, on any machine.
 */
async function loginsInFlight(server: RunningServer, agent: http.Agent) {
  const credentials = { username: 'admin', password: server.admin.password };
  const logins = Array.from({ length: 20 }, () => heldRequest(server, '/auth/login', credentials, agent));
  await Promise.all(logins.map((login) => login.received));
  const running = logins.slice(0, 10);
  const waiting = logins.slice(10);
  for (const login of running) login.release();
  return { running, waiting, all: logins };
}

describe.each(DIALECTS)('graceful shutdown on %s', (dialect) => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s while requests are in flight: they complete, the process exits 0, every answered request is audited', { timeout: 90_000 }, async (signal) => {
    const server = await startServer({ dialect, env: GENEROUS_LIMITS });
    // Keep-alive, as browsers and fetch do: a connection outlives its request unless the server ends it.
    const agent = new http.Agent({ keepAlive: true });
    try {
      const { waiting, all } = await loginsInFlight(server, agent);
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      const signalled = Date.now();
      server.child.kill(signal);
      // Ten requests still wait for their bodies: shutdown waits for them.
      await sleep(500);
      expect(server.child.exitCode).toBeNull();
      // New connections are no longer taken.
      await expect(call(server, 'GET', '/healthz')).rejects.toThrow();
      for (const login of waiting) login.release();
      const [answered, code] = await Promise.all([Promise.all(all.map((login) => login.response)), exited]);
      const exitMs = Date.now() - signalled;

      expect(code, server.stderr()).toBe(0);
      expect(exitMs, 'from the signal to the exit').toBeLessThan(8_000);
      expect(answered.map((response) => response.status)).toEqual(Array(20).fill(200));
      for (const response of answered) expect(JSON.parse(response.body)).toMatchObject({ token_type: 'Bearer' });
      // Answers given while closing close their connection instead of keeping it alive for 72 s.
      for (const response of answered.slice(10)) expect(response.headers.connection).toBe('close');
      expect(server.stderr()).not.toMatch(/"level":(50|60)/);

      await expectEveryAnsweredRequestAudited(server, answered.map((response) => response.headers['x-request-id']));
      expect((await auditRows(server)).filter((row) => row.action === 'auth.login')).toHaveLength(20);
    } finally {
      agent.destroy();
      await server.dispose();
    }
  });

  it('a second SIGINT during shutdown exits at once with 130, and what was answered is still audited', { timeout: 90_000 }, async () => {
    const server = await startServer({ dialect, env: GENEROUS_LIMITS });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const { all } = await loginsInFlight(server, agent);
      const outcomes = all.map((login) => login.response.then((response) => response, () => undefined));
      server.child.kill('SIGINT');
      await sleep(300);
      expect(server.child.exitCode).toBeNull();
      const second = Date.now();
      const code = await server.stop('SIGINT');
      expect(code).toBe(130);
      expect(Date.now() - second).toBeLessThan(3_000);
      expect(server.stderr()).toMatch(/SIGINT again; exiting without waiting/);
      const settled = await Promise.all(outcomes);
      // The ten that never sent their bodies are cut off, not answered.
      expect(settled.slice(10)).toEqual(Array(10).fill(undefined));
      const answered = settled.flatMap((response) => (response === undefined ? [] : [response]));
      for (const response of answered) expect(response.status).toBe(200);
      await expectEveryAnsweredRequestAudited(server, answered.map((response) => response.headers['x-request-id']));
    } finally {
      agent.destroy();
      await server.dispose();
    }
  });
});

describe.each(DIALECTS)('a crash on %s', (dialect) => {
  it('SIGKILL in the middle of a stream of writes loses no answered request’s audit event', { timeout: 120_000 }, async () => {
    const server = await startServer({ dialect, env: GENEROUS_LIMITS });
    let restarted: RunningServer | undefined;
    try {
      const token = (await login(server, 'admin', server.admin.password)).access_token;
      const answered: Response[] = [];
      let refused = 0;
      // Eight clients in a loop, half creating API keys, half failing to log in as nobody:
      // every request writes audit events, and every answer comes after its commit.
      const client = async (n: number) => {
        for (let i = 0; ; i++) {
          try {
            const response =
              i % 2 === 0
                ? await call(server, 'POST', '/api-keys', { token, body: { name: `crash-${n}-${i}`, roles: ['viewer'] } })
                : await call(server, 'POST', '/auth/login', { body: { username: `nobody-${n}-${i}`, password: 'irrelevant' } });
            answered.push(response);
          } catch {
            refused += 1;
            return;
          }
        }
      };
      const clients = Array.from({ length: 8 }, (_, n) => client(n));
      for (let waited = 0; answered.length < 60 && waited < 60_000; waited += 20) await sleep(20);
      expect(answered.length).toBeGreaterThanOrEqual(60);

      expect(await server.stop('SIGKILL')).toBeNull();
      expect(server.child.signalCode).toBe('SIGKILL');
      await Promise.all(clients);
      expect(refused).toBe(8);
      for (const response of answered) expect([201, 401]).toContain(response.status);
      expect(answered.filter((response) => response.status === 201).length).toBeGreaterThan(10);

      await expectEveryAnsweredRequestAudited(server, answered.map((response) => response.headers.get('x-request-id')));

      // The store comes back: a restarted server appends to the same chain and reads it.
      restarted = await startServer({ reuse: { dataDir: server.dataDir, env: server.env }, env: GENEROUS_LIMITS });
      expect(restarted.stdout()).not.toMatch(/password:/);
      const admin = (await login(restarted, 'admin', server.admin.password)).access_token;
      const lastAnswered = answered.at(-1)?.headers.get('x-request-id');
      const events = await call(restarted, 'GET', '/audit/events?limit=1000', { token: admin });
      expect((events.body.events as { requestId: string }[]).map((event) => event.requestId)).toContain(lastAnswered);
      const verify = await call(restarted, 'GET', '/audit/verify', { token: admin });
      expect(verify.body).toMatchObject({ ok: true });
      expect(await restarted.stop()).toBe(0);
      expect((await cli(server, ['audit', 'verify'])).code).toBe(0);
    } finally {
      await restarted?.dispose();
      await server.dispose();
    }
  });
});

describe('two servers sharing PostgreSQL and Redis', () => {
  const url = new URL(redisUrl());
  url.pathname = `/${REDIS_DB}`;
  const env = { IRONCODE_REDIS_URL: url.toString(), IRONCODE_SERVER_RATE_LIMIT_PER_IP: '25' };
  let redis: Redis;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    redis = new Redis(url.toString(), { maxRetriesPerRequest: 1 });
    await redis.flushdb();
    a = await startServer({ dialect: 'postgres', env });
    b = await startServer({ reuse: { dataDir: a.dataDir, env: a.env }, env });
  }, 90_000);
  afterAll(async () => {
    await b?.dispose();
    await a?.dispose();
    await redis?.flushdb();
    await redis?.quit();
  });

  it('both say they use Redis', () => {
    for (const server of [a, b]) expect(server.stdout()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(MCP at \S+; store: postgres postgres:\/\/\S+, redis\)/);
    expect(b.stdout()).not.toMatch(/password:/);
  });

  it('a logout on A is refused on B at once, through the revocation mirrored in Redis', async () => {
    const session = await login(a, 'admin', a.admin.password);
    const sid = decodeJwt(session.access_token).sid as string;
    expect((await call(b, 'GET', '/auth/me', { token: session.access_token })).status).toBe(200);
    expect(await redis.exists(`ironcode:revoked-session:${sid}`)).toBe(0);

    expect((await call(a, 'POST', '/auth/logout', { token: session.access_token })).status).toBe(204);
    expect(await redis.exists(`ironcode:revoked-session:${sid}`)).toBe(1);
    expect(await redis.ttl(`ironcode:revoked-session:${sid}`)).toBeGreaterThan(86_400);
    expect((await call(b, 'GET', '/auth/me', { token: session.access_token })).status).toBe(401);
    expect((await call(b, 'POST', '/auth/refresh', { body: { refresh_token: session.refresh_token } })).status).toBe(401);
  });

  it('hits on A count on B: the per-IP limit is one counter in Redis', async () => {
    // A fresh window for this test alone.
    for (const key of await redis.keys('ironcode:rate:*')) await redis.del(key);
    const first = await call(a, 'GET', '/healthz');
    expect(first.headers.get('ratelimit-limit')).toBe('25');
    expect(first.headers.get('ratelimit-remaining')).toBe('24');
    const second = await call(b, 'GET', '/healthz');
    expect(second.headers.get('ratelimit-remaining')).toBe('23');
    for (let i = 0; i < 23; i++) expect((await call(i % 2 === 0 ? a : b, 'GET', '/healthz')).status).toBe(200);

    const refusedOnB = await call(b, 'GET', '/healthz');
    expect(refusedOnB.status).toBe(429);
    expect(refusedOnB.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refusedOnB.body).toMatchObject({ status: 429, scope: 'ip' });
    expect(Number(refusedOnB.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(a, 'GET', '/healthz')).status).toBe(429);

    // One audit record per window and key, whichever instance refused first.
    const client = new pg.Client({ connectionString: a.env.IRONCODE_DATABASE_URL });
    await client.connect();
    try {
      const rows = (await client.query("SELECT request_id FROM audit_events WHERE action = 'http.rate-limit'")).rows as { request_id: string }[];
      expect(rows.map((row) => row.request_id)).toEqual([refusedOnB.headers.get('x-request-id')]);
    } finally {
      await client.end();
    }
  });

  it('both instances wrote one intact chain', async () => {
    const verify = await cli(a, ['audit', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
  });
});

describe('refusing to start', () => {
  let port: number;
  beforeAll(async () => {
    port = await closedPort();
  });

  const cases: { what: string; env: (port: number) => NodeJS.ProcessEnv; message: RegExp }[] = [
    {
      what: 'an unreachable IRONCODE_REDIS_URL',
      env: (p) => ({ IRONCODE_REDIS_URL: `redis://:hunter2secret@127.0.0.1:${p}/0` }),
      message: /cannot reach Redis at IRONCODE_REDIS_URL \(redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0\): connect ECONNREFUSED 127\.0\.0\.1:\d+/,
    },
    {
      what: 'an IRONCODE_DATABASE_URL nobody answers',
      env: (p) => ({ IRONCODE_DATABASE_URL: `postgres://ironcode:hunter2secret@127.0.0.1:${p}/ironcode` }),
      message: /migration\s+failed on postgres:\/\/ironcode:\*\*\*@127\.0\.0\.1:\d+\/ironcode: connect ECONNREFUSED/,
    },
    {
      what: 'an IRONCODE_DATABASE_URL naming a database that does not exist',
      env: () => {
        const missing = new URL(postgresUrl());
        missing.pathname = `/ironcode_missing_${randomBytes(4).toString('hex')}`;
        return { IRONCODE_DATABASE_URL: missing.toString() };
      },
      message: /database "ironcode_missing_[0-9a-f]+" does not exist/,
    },
    {
      what: 'an IRONCODE_DATABASE_URL that is not PostgreSQL',
      env: () => ({ IRONCODE_DATABASE_URL: 'mysql://root@127.0.0.1/ironcode' }),
      message: /IRONCODE_DATABASE_URL has scheme mysql:; only postgres:\/\/ is supported/,
    },
  ];

  it.for(cases)('fails fast on $what, with a clear message, a non-zero exit and no process left', { timeout: 60_000 }, async ({ env, message }) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ironcode-refuse-'));
    try {
      const started = Date.now();
      const result = await runCli(['serve', '--port', '0', '--data-dir', dataDir], { env: { ...process.env, IRONCODE_LOG_LEVEL: 'warn', ...env(port) }, cwd: dataDir, timeoutMs: 30_000 });
      const elapsed = Date.now() - started;
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(elapsed).toBeLessThan(15_000);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('hunter2secret');
      expect(result.stdout).not.toMatch(/listening|password:/);
      // One line, no stack: a configuration problem, not a crash.
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(await processesWith(dataDir)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('readiness when PostgreSQL goes away', () => {
  it('/readyz turns 503 naming the store while /healthz stays 200', { timeout: 60_000 }, async () => {
    const server = await startServer({ dialect: 'postgres' });
    try {
      expect((await call(server, 'GET', '/readyz')).body).toEqual({ status: 'ready', store: 'postgres' });
      const name = new URL(server.env.IRONCODE_DATABASE_URL ?? '').pathname.slice(1);
      const admin = new pg.Client({ connectionString: postgresUrl() });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
      const started = Date.now();
      const ready = await call(server, 'GET', '/readyz');
      expect(Date.now() - started).toBeLessThan(12_000);
      expect(ready.status).toBe(503);
      expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(ready.body.detail).toMatch(/^not ready: store unreachable: /);
      expect((await call(server, 'GET', '/healthz')).status).toBe(200);
      // Shutting down with the database gone still ends the process.
      const code = await server.stop();
      expect(code, server.stderr()).toBe(0);
    } finally {
      await server.dispose();
    }
  });
});
