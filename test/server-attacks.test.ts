/**
 * The attack suite: every attack the identity issue names, sent over real HTTP to the
 * real `ironcode serve`, on SQLite and on PostgreSQL. Each one must be refused with a
 * problem+json body carrying a stable code (and no stack trace), and must leave a
 * denied event in the audit log under the refused request's id. A control beside each
 * family (the same request done right) proves the refusal is the check at work and
 * not a broken fixture.
 *
 * Token forgery acts as an insider who holds the data directory: it unseals the real
 * private signing key and signs tokens whose only flaw is one claim, so what is proved
 * is the claim check, not just the signature check.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, exportSPKI, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, createSecretBox } from '../src/identity/index.js';
import { runCli } from './run-cli.js';
import { call, login, startServer } from './support/server.js';
import type { Dialect, RunningServer } from './support/server.js';

type Reply = Awaited<ReturnType<typeof call>>;

interface AuditEvent {
  seq: number;
  principal: string;
  principalKind: string;
  action: string;
  resource: string;
  decision: string;
  reason: string | null;
  requestId: string | null;
  ip: string | null;
}

interface Account {
  id: string;
  username: string;
  password: string;
}

/** The main server's limits: high enough that the suite never trips them, small body limit. */
const BODY_LIMIT = 4096;
const MAIN_ENV = {
  IRONCODE_SERVER_BODY_LIMIT_BYTES: String(BODY_LIMIT),
  IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP: '1000',
  IRONCODE_SERVER_RATE_LIMIT_PER_IP: '100000',
  IRONCODE_SERVER_RATE_LIMIT_PER_PRINCIPAL: '100000',
};
/** The rate-limit server's: a few requests each, so the suite can exceed them. */
const AUTH_LIMIT = 3;
const PRINCIPAL_LIMIT = 20;
const IP_LIMIT = 80;
const LIMITED_ENV = {
  IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP: String(AUTH_LIMIT),
  IRONCODE_SERVER_RATE_LIMIT_PER_PRINCIPAL: String(PRINCIPAL_LIMIT),
  IRONCODE_SERVER_RATE_LIMIT_PER_IP: String(IP_LIMIT),
};
const ISSUER = 'ironcode';
const AUDIENCE = 'ironcode';
/** What every refused credential is told: which check failed is for the audit log only. */
const CREDENTIALS_REFUSED = 'invalid or expired credentials';
const PASSWORD = 'Tr0ub4dor&3-horse-staple';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encodeJson = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A refusal as the API promises it: status, problem+json, stable code, request id, nothing internal. */
function expectProblem(reply: Reply, status: number, code: string): void {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.body).toMatchObject({ status, code, type: expect.stringMatching(/^urn:ironcode:problem:/), title: expect.any(String), detail: expect.any(String) });
  const text = JSON.stringify(reply.body);
  expect(text).not.toMatch(/"stack"|\\n\s+at |node_modules|\.[jt]s:\d+|FST_/);
  const requestId = reply.headers.get('x-request-id');
  expect(requestId).toMatch(/^req_/);
  expect(reply.body.requestId).toBe(requestId);
  if (status === 401) expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer realm="ironcode"/);
}

/** A refused credential: 401 with the one uniform detail, so the client learns nothing about which check failed. */
function expectUnauthenticated(reply: Reply): void {
  expectProblem(reply, 401, 'IRON_UNAUTHENTICATED');
  expect(reply.body.detail).toBe(CREDENTIALS_REFUSED);
}

function sessionOf(accessToken: string): string {
  const sid = decodeJwt(accessToken).sid;
  if (typeof sid !== 'string') throw new Error('access token without sid');
  return sid;
}

/** The insider's view: the real signing key, unsealed with the data dir's secret.key. */
async function readSigningKey(server: RunningServer, dialect: Dialect, kid: string): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const text = readFileSync(path.join(server.dataDir, 'secret.key'), 'utf8').trim();
  const secret = /^[0-9a-f]+$/i.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  let row: { public_jwk: string; private_jwk: string } | undefined;
  if (dialect === 'sqlite') {
    const db = new Database(path.join(server.dataDir, 'ironcode.db'), { readonly: true, fileMustExist: true });
    try {
      row = db.prepare('SELECT public_jwk, private_jwk FROM signing_keys WHERE kid = ?').get(kid) as typeof row;
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({ connectionString: server.env.IRONCODE_DATABASE_URL });
    await client.connect();
    try {
      row = (await client.query<{ public_jwk: string; private_jwk: string }>('SELECT public_jwk, private_jwk FROM signing_keys WHERE kid = $1', [kid])).rows[0];
    } finally {
      await client.end();
    }
  }
  if (row === undefined) throw new Error(`no signing key ${kid} in the store`);
  const privateJwk = JSON.parse(createSecretBox(secret, 'signing-key').open(row.private_jwk)) as JWK;
  return { privateKey: (await importJWK(privateJwk, 'ES256')) as CryptoKey, publicJwk: JSON.parse(row.public_jwk) as JWK };
}

describe.each(['sqlite', 'postgres'] as const)('attacks over HTTP on %s', (dialect) => {
  describe('credentials, tokens, keys and bodies', () => {
    let server: RunningServer;
    let adminToken: string;
    let adminId: string;
    /** An operator: more rights than a viewer, so what it is refused a viewer is refused too. */
    let alice: Account;
    let bob: Account;
    let aliceTokens: { access_token: string; refresh_token: string };
    let kid: string;
    let signingKey: { privateKey: CryptoKey; publicJwk: JWK };

    const as = (token: string) => ({
      get: (url: string) => call(server, 'GET', url, { token }),
      send: (method: string, url: string, body?: unknown) => call(server, method, url, { token, ...(body === undefined ? {} : { body }) }),
    });

    /** The denied event recorded for exactly this refused request. */
    async function auditedDenial(refused: Reply, action: string): Promise<AuditEvent> {
      const requestId = refused.headers.get('x-request-id');
      const found = await as(adminToken).get(`/audit/events?decision=denied&action=${encodeURIComponent(action)}&limit=1000`);
      expect(found.status, JSON.stringify(found.body)).toBe(200);
      const event = (found.body.events as AuditEvent[]).find((entry) => entry.requestId === requestId);
      expect(event, `no denied ${action} event for request ${requestId ?? '?'}`).toBeDefined();
      expect(event?.decision).toBe('denied');
      expect(event?.ip).toBe('127.0.0.1');
      return event as AuditEvent;
    }

    async function createUser(username: string, roles: string[]): Promise<Account> {
      const created = await as(adminToken).send('POST', '/users', { username, password: PASSWORD, roles });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return { id: created.body.id as string, username, password: PASSWORD };
    }

    async function createKey(body: Record<string, unknown>): Promise<{ key: string; id: string; expiresAt: string | null }> {
      const created = await as(adminToken).send('POST', '/api-keys', body);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return { key: created.body.key as string, id: created.body.api_key.id as string, expiresAt: created.body.api_key.expiresAt as string | null };
    }

    /** Valid claims for alice's live session; each attack spoils one thing. */
    function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
      const now = nowSeconds();
      const base: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: alice.id, sid: sessionOf(aliceTokens.access_token), jti: `jti_forged${now}`, iat: now, nbf: now, exp: now + 300 };
      for (const [name, value] of Object.entries(overrides)) {
        if (value === undefined) delete base[name];
        else base[name] = value;
      }
      return base;
    }

    function forge(payload: Record<string, unknown>, header: Record<string, unknown> = {}, key: CryptoKey = signingKey.privateKey): Promise<string> {
      return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...header }).sign(key);
    }

    beforeAll(async () => {
      server = await startServer({ dialect, env: MAIN_ENV });
      expect(server.admin.password).not.toBe('');
      adminToken = (await login(server, server.admin.username, server.admin.password)).access_token;
      adminId = decodeJwt(adminToken).sub ?? '';
      alice = await createUser('alice', ['operator']);
      bob = await createUser('bob', ['viewer']);
      aliceTokens = await login(server, alice.username, alice.password);
      kid = decodeProtectedHeader(aliceTokens.access_token).kid ?? '';
      signingKey = await readSigningKey(server, dialect, kid);
    }, 60_000);

    afterAll(async () => {
      await server?.dispose();
    });

    describe('access tokens', () => {
      it('accepts a token the insider signs with valid claims (the control every forgery below differs from in one thing)', async () => {
        const me = await as(await forge(claims())).get('/auth/me');
        expect(me.status, JSON.stringify(me.body)).toBe(200);
        expect(me.body.principal).toMatchObject({ kind: 'user', id: alice.id, name: 'alice' });
      });

      it('refuses alg: none, in any spelling, and audits it', async () => {
        for (const alg of ['none', 'None', 'NONE']) {
          const unsigned = `${encodeJson({ alg, kid, typ: 'at+jwt' })}.${encodeJson(claims())}.`;
          const refused = await as(unsigned).get('/auth/me');
          expectUnauthenticated(refused);
          const event = await auditedDenial(refused, 'auth.token');
          expect(event.reason).toBe(`algorithm ${alg} is not accepted`);
          expect(event.principal).toBe('anonymous');
        }
      });

      it('refuses HS256 signed with the published public key (HS/ES confusion) and audits it', async () => {
        const jwks = await call(server, 'GET', '/.well-known/jwks.json');
        expect(jwks.status).toBe(200);
        const published = (jwks.body.keys as JWK[]).find((entry) => entry.kid === kid);
        expect(published).toBeDefined();
        const pem = await exportSPKI((await importJWK(published as JWK, 'ES256')) as CryptoKey);
        const secrets = [JSON.stringify(published), JSON.stringify(signingKey.publicJwk), pem, `${published?.x ?? ''}${published?.y ?? ''}`];
        for (const secret of secrets) {
          const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
          const refused = await as(token).get('/auth/me');
          expectUnauthenticated(refused);
          expect((await auditedDenial(refused, 'auth.token')).reason).toBe('algorithm HS256 is not accepted');
        }
        for (const alg of ['RS256', 'PS256', 'ES384', 'EdDSA']) {
          const token = `${encodeJson({ alg, kid, typ: 'at+jwt' })}.${encodeJson(claims())}.${Buffer.alloc(64, 7).toString('base64url')}`;
          const refused = await as(token).get('/auth/me');
          expectUnauthenticated(refused);
          expect((await auditedDenial(refused, 'auth.token')).reason).toBe(`algorithm ${alg} is not accepted`);
        }
      });

      const spoiled: [name: string, overrides: () => Record<string, unknown>, header: Record<string, unknown>, reason: RegExp][] = [
        ['expired (beyond the 5 s tolerance)', () => ({ iat: nowSeconds() - 3600, nbf: nowSeconds() - 3600, exp: nowSeconds() - 30 }), {}, /^token expired$/],
        ['not yet valid (nbf in the future)', () => ({ nbf: nowSeconds() + 600, exp: nowSeconds() + 1200 }), {}, /^claim nbf invalid/],
        ['for another audience', () => ({ aud: 'someone-else' }), {}, /^claim aud invalid/],
        ['for several audiences, none ours', () => ({ aud: ['grafana', 'vault'] }), {}, /^claim aud invalid/],
        ['from another issuer', () => ({ iss: 'https://evil.example' }), {}, /^claim iss invalid/],
        ['without jti', () => ({ jti: undefined }), {}, /^claim jti invalid/],
        ['without sid', () => ({ sid: undefined }), {}, /^claim sid invalid/],
        ['without exp', () => ({ exp: undefined }), {}, /^claim exp invalid/],
        ['with a non-string sid', () => ({ sid: 42 }), {}, /^malformed claims$/],
        ['of another type (typ JWT, say an ID token)', () => ({}), { typ: 'JWT' }, /^claim typ invalid/],
        ['naming an unknown key id', () => ({}), { kid: 'not-a-key-of-ours' }, /^unknown or expired signing key not-a-key-of-ours$/],
        ['naming no key id', () => ({}), { kid: undefined }, /^token names no key \(kid\)$/],
      ];
      it.each(spoiled)('refuses a token signed by the real key but %s, and audits it', async (_name, overrides, header, reason) => {
        const token = await forge(claims(overrides()), header);
        const refused = await as(token).get('/auth/me');
        expectUnauthenticated(refused);
        expect((await auditedDenial(refused, 'auth.token')).reason).toMatch(reason);
      });

      it('refuses a real token whose payload was changed after signing, and audits it', async () => {
        const [head, payload, signature] = aliceTokens.access_token.split('.');
        const changed = { ...(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>), sub: adminId };
        const tampered = `${head ?? ''}.${encodeJson(changed)}.${signature ?? ''}`;
        const refused = await as(tampered).get('/users');
        expectUnauthenticated(refused);
        expect((await auditedDenial(refused, 'auth.token')).reason).toBe('signature invalid');
        // And a flipped bit in the signature itself.
        const sig = Buffer.from(signature ?? '', 'base64url');
        sig[0] = (sig[0] ?? 0) ^ 1;
        const flipped = await as(`${head ?? ''}.${payload ?? ''}.${sig.toString('base64url')}`).get('/auth/me');
        expectUnauthenticated(flipped);
        expect((await auditedDenial(flipped, 'auth.token')).reason).toBe('signature invalid');
      });

      it('refuses a token signed by another ES256 key under the real kid (even with that key embedded), and audits it', async () => {
        const attacker = await generateKeyPair('ES256', { extractable: true });
        const embedded = { ...(await exportJWK(attacker.publicKey)), kid };
        for (const header of [{}, { jwk: embedded }, { jku: `${server.url}/.well-known/jwks.json` }]) {
          const refused = await as(await forge(claims({ sub: adminId }), header, attacker.privateKey)).get('/users');
          expectUnauthenticated(refused);
          expect((await auditedDenial(refused, 'auth.token')).reason).toBe('signature invalid');
        }
      });

      it('refuses a token of a session that was logged out, real or forged, and audits it', async () => {
        const pair = await login(server, alice.username, alice.password);
        expect((await as(pair.access_token).get('/auth/me')).status).toBe(200);
        expect((await as(pair.access_token).send('POST', '/auth/logout')).status).toBe(204);
        const ended = sessionOf(pair.access_token);

        const real = await as(pair.access_token).get('/auth/me');
        expectUnauthenticated(real);
        const event = await auditedDenial(real, 'auth.token');
        expect(event.reason).toMatch(/^session ended/);
        expect(event.principal).toBe(alice.id);

        const forged = await as(await forge(claims({ sid: ended }))).get('/auth/me');
        expectUnauthenticated(forged);
        expect((await auditedDenial(forged, 'auth.token')).reason).toMatch(/^session ended/);

        const refresh = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: pair.refresh_token } });
        expectProblem(refresh, 401, 'IRON_UNAUTHENTICATED');
        expect(refresh.body.detail).toBe('invalid refresh token');
        expect((await auditedDenial(refresh, 'auth.refresh')).reason).toBe('refresh token session-ended');
      });

      it('refuses every token of a user whose password an administrator reset, and audits it', async () => {
        const carol = await createUser('carol', ['viewer']);
        const pair = await login(server, carol.username, carol.password);
        expect((await as(pair.access_token).get('/auth/me')).status).toBe(200);
        expect((await as(adminToken).send('POST', `/users/${carol.id}/password`, { new_password: 'a-completely-new-passphrase' })).status).toBe(204);
        const refused = await as(pair.access_token).get('/auth/me');
        expectUnauthenticated(refused);
        expect((await auditedDenial(refused, 'auth.token')).reason).toMatch(/^session ended/);
      });

      it('refuses a token that binds another user to a live session (sub of the admin, sid of alice), and audits it', async () => {
        const refused = await as(await forge(claims({ sub: adminId }))).get('/users');
        expectUnauthenticated(refused);
        const event = await auditedDenial(refused, 'auth.token');
        expect(event.reason).toMatch(/session .* belongs to another user/);
      });

      it('refuses garbage, oversized and non-Bearer credentials, and audits them', async () => {
        const attempts: [headers: Record<string, string>, reason: string][] = [
          [{ authorization: 'Bearer not.a.jwt' }, 'not a JWT'],
          [{ authorization: `Bearer ${'a'.repeat(5000)}` }, 'Authorization header is not "Bearer <credential>" (or the credential is over 4096 characters)'],
          [{ authorization: `Basic ${Buffer.from(`admin:${server.admin.password}`).toString('base64')}` }, 'Authorization header is not "Bearer <credential>" (or the credential is over 4096 characters)'],
          [{ authorization: `Bearer ${aliceTokens.access_token} extra` }, 'Authorization header is not "Bearer <credential>" (or the credential is over 4096 characters)'],
          [{}, 'no Authorization header'],
        ];
        for (const [headers, reason] of attempts) {
          const refused = await call(server, 'GET', '/auth/me', { headers });
          expectProblem(refused, 401, 'IRON_UNAUTHENTICATED');
          expect((await auditedDenial(refused, 'auth.token')).reason).toBe(reason);
        }
      });
    });

    describe('refresh tokens', () => {
      it('treats a reused refresh token as theft: 401, audited, and the whole session is revoked', async () => {
        const first = await login(server, alice.username, alice.password);
        const rotated = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
        expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
        const second = rotated.body as { access_token: string; refresh_token: string };
        expect(second.refresh_token).not.toBe(first.refresh_token);
        expect((await as(second.access_token).get('/auth/me')).status).toBe(200);

        const reused = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
        expectProblem(reused, 401, 'IRON_UNAUTHENTICATED');
        const event = await auditedDenial(reused, 'auth.refresh-reuse');
        expect(event.reason).toBe('refresh token reused: session revoked');
        expect(event.principal).toBe(alice.id);
        expect(event.resource).toBe(`session:${sessionOf(first.access_token)}`);

        // The thief's copy and the owner's newer tokens all died with the session.
        const newerRefresh = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: second.refresh_token } });
        expectProblem(newerRefresh, 401, 'IRON_UNAUTHENTICATED');
        expect((await auditedDenial(newerRefresh, 'auth.refresh')).reason).toBe('refresh token session-ended');
        for (const access of [first.access_token, second.access_token]) {
          const refused = await as(access).get('/auth/me');
          expectUnauthenticated(refused);
          expect((await auditedDenial(refused, 'auth.token')).reason).toMatch(/^session ended/);
        }
        // Other sessions of the same user are untouched.
        expect((await as(aliceTokens.access_token).get('/auth/me')).status).toBe(200);
      });

      it('refuses an unknown refresh token and an access token offered as one, and audits both', async () => {
        for (const refreshToken of ['ironcode_rt_' + 'x'.repeat(43), aliceTokens.access_token.slice(0, 256)]) {
          const refused = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: refreshToken } });
          expectProblem(refused, 401, 'IRON_UNAUTHENTICATED');
          expect((await auditedDenial(refused, 'auth.refresh')).reason).toBe('refresh token unknown');
        }
      });
    });

    describe('passwords', () => {
      it('locks the account after 5 wrong passwords, refuses even the right one, audits the lockout, and unlock-user lifts it', async () => {
        const dave = await createUser('dave', ['viewer']);
        const attempts: Reply[] = [];
        for (let attempt = 1; attempt <= 5; attempt++) {
          const refused = await call(server, 'POST', '/auth/login', { body: { username: dave.username, password: `wrong-guess-number-${attempt}` } });
          expectProblem(refused, 401, 'IRON_UNAUTHENTICATED');
          expect(refused.body.detail).toBe('invalid username or password');
          expect((await auditedDenial(refused, 'auth.login')).reason).toBe('wrong password');
          attempts.push(refused);
        }
        const lockout = await auditedDenial(attempts[4] as Reply, 'auth.lockout');
        expect(lockout.principal).toBe(dave.id);
        expect(lockout.reason).toMatch(/^5 failed password checks within \d+ s \(last: auth\.login\); locked for \d+ s$/);
        // The fourth failure did not lock yet.
        const early = await as(adminToken).get(`/audit/events?decision=denied&action=auth.lockout&principal=${dave.id}`);
        expect(early.body.events).toHaveLength(1);

        const right = await call(server, 'POST', '/auth/login', { body: { username: dave.username, password: dave.password } });
        expectProblem(right, 401, 'IRON_UNAUTHENTICATED');
        expect(right.body.detail).toMatch(/^too many failed logins; the account is locked until \d{4}-\d\d-\d\dT/);
        expect(Date.parse(right.body.lockedUntil as string)).toBeGreaterThan(Date.now());
        expect((await auditedDenial(right, 'auth.login')).reason).toBe('account locked');
        expect((await as(adminToken).get(`/users/${dave.id}`)).body.locked).toBe(true);

        const unlock = await runCli(['admin', 'unlock-user', '--username', dave.username, '--data-dir', server.dataDir], { env: server.env });
        expect(unlock.code, unlock.stderr).toBe(0);
        expect(unlock.stdout).toContain('dave unlocked');
        const after = await login(server, dave.username, dave.password);
        expect((await as(after.access_token).get('/auth/me')).body.principal.id).toBe(dave.id);
      });

      it('refuses and audits a login for a user that does not exist, with the same answer as a wrong password', async () => {
        const refused = await call(server, 'POST', '/auth/login', { body: { username: 'nobody-here', password: PASSWORD } });
        expectProblem(refused, 401, 'IRON_UNAUTHENTICATED');
        expect(refused.body.detail).toBe('invalid username or password');
        expect((await auditedDenial(refused, 'auth.login')).reason).toBe('unknown user');
      });
    });

    describe('API keys', () => {
      it('refuses a viewer key everything beyond its scope, and audits each refusal', async () => {
        // An administrator's key without user_id still acts for the administrator (bounded by their roles).
        const viewer = await createKey({ name: 'viewer-key', roles: ['viewer'] });
        expect((await as(viewer.key).get('/auth/me')).body.principal).toMatchObject({ kind: 'api-key', id: viewer.id, roles: ['viewer'] });

        const users = await as(viewer.key).get('/users');
        expectProblem(users, 403, 'IRON_FORBIDDEN');
        expect(users.body.permission).toBe('users:read');
        expect((await auditedDenial(users, 'user.list')).principal).toBe(viewer.id);

        const auditLog = await as(viewer.key).get('/audit/events');
        expectProblem(auditLog, 403, 'IRON_FORBIDDEN');
        expect((await auditedDenial(auditLog, 'http.authorize')).reason).toBe('lacks permission audit:read');

        const escalate = await as(viewer.key).send('POST', '/api-keys', { name: 'more', roles: ['admin'] });
        expectProblem(escalate, 403, 'IRON_FORBIDDEN');
        await auditedDenial(escalate, 'api-key.create');

        const createUserAttempt = await as(viewer.key).send('POST', '/users', { username: 'mallory', password: PASSWORD, roles: ['admin'] });
        expectProblem(createUserAttempt, 403, 'IRON_FORBIDDEN');
        await auditedDenial(createUserAttempt, 'user.create');
      });

      it('bounds a key acting for a user by that user’s roles, whatever roles the key names', async () => {
        const key = await createKey({ name: 'bob-as-admin', roles: ['admin'], user_id: bob.id });
        expect((await as(key.key).get('/auth/me')).status).toBe(200);
        const refused = await as(key.key).get('/users');
        expectProblem(refused, 403, 'IRON_FORBIDDEN');
        await auditedDenial(refused, 'user.list');
        const auditRead = await as(key.key).get('/audit/verify');
        expectProblem(auditRead, 403, 'IRON_FORBIDDEN');
        await auditedDenial(auditRead, 'http.authorize');
      });

      it('refuses a key after it is revoked, and audits it', async () => {
        const key = await createKey({ name: 'to-revoke', roles: ['viewer'] });
        expect((await as(key.key).get('/auth/me')).status).toBe(200);
        const revoked = await as(adminToken).send('DELETE', `/api-keys/${key.id}`);
        expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
        expect(revoked.body.revokedAt).not.toBeNull();
        const refused = await as(key.key).get('/auth/me');
        expectUnauthenticated(refused);
        const event = await auditedDenial(refused, 'auth.api-key');
        expect(event.reason).toBe('key revoked');
        expect(event.principal).toBe(key.id);
      });

      it('refuses a key after it expires, and audits it', async () => {
        const key = await createKey({ name: 'short-lived', roles: ['viewer'], expires_in: '1s' });
        expect(key.expiresAt).not.toBeNull();
        expect((await as(key.key).get('/auth/me')).status).toBe(200);
        await sleep(Math.max(0, Date.parse(key.expiresAt ?? '') - Date.now()) + 250);
        const refused = await as(key.key).get('/auth/me');
        expectUnauthenticated(refused);
        expect((await auditedDenial(refused, 'auth.api-key')).reason).toBe('key expired');
      });

      it('refuses a key (made with the CLI) from outside its IP allowlist, even with a forged X-Forwarded-For, and audits it', async () => {
        const made = await runCli(['admin', 'create-api-key', '--name', 'office-only', '--role', 'viewer', '--ip', '10.0.0.0/8', '--expires', '1d', '--data-dir', server.dataDir], {
          env: server.env,
        });
        expect(made.code, made.stderr).toBe(0);
        const key = made.stdout.trim().split('\n').at(-1) ?? '';
        expect(key).toMatch(API_KEY_PATTERN);
        const spoofs: Record<string, string>[] = [{}, { 'x-forwarded-for': '10.1.2.3' }, { 'x-real-ip': '10.1.2.3', forwarded: 'for=10.1.2.3' }];
        for (const headers of spoofs) {
          const refused = await call(server, 'GET', '/auth/me', { token: key, headers });
          expectUnauthenticated(refused);
          expect((await auditedDenial(refused, 'auth.api-key')).reason).toBe("client address 127.0.0.1 is not on the key's allowlist");
        }
        // The control: the same check lets a key for this address through.
        const local = await createKey({ name: 'loopback-only', roles: ['viewer'], ip_allowlist: ['127.0.0.1/32'] });
        expect((await as(local.key).get('/auth/me')).status).toBe(200);
      });

      it('refuses an unknown key and a known key id with a wrong secret, and audits both', async () => {
        const real = await createKey({ name: 'real', roles: ['viewer'] });
        const wrongSecret = real.key.slice(0, -40) + (real.key.endsWith('A'.repeat(40)) ? 'B' : 'A').repeat(40);
        const unknown = `ironcode_${'Z'.repeat(16)}${'a'.repeat(40)}`;
        for (const [key, reason, principalKind] of [
          [wrongSecret, 'wrong secret', 'api-key'],
          // A guessed id names nobody: it goes in the reason, not in the principal column.
          [unknown, `unknown key id key_${'Z'.repeat(16)}`, 'anonymous'],
          ['ironcode_short', 'not an ironcode API key', 'anonymous'],
        ] as const) {
          const refused = await as(key).get('/auth/me');
          expectUnauthenticated(refused);
          expect(await auditedDenial(refused, 'auth.api-key')).toMatchObject({ reason, principalKind });
        }
      });
    });

    describe('one user against another (IDOR)', () => {
      it('lets alice read herself but not bob, and audits the refusal', async () => {
        const self = await as(aliceTokens.access_token).get(`/users/${alice.id}`);
        expect(self.status).toBe(200);
        expect(self.body).toMatchObject({ id: alice.id, username: 'alice' });
        expect(JSON.stringify(self.body)).not.toMatch(/scrypt|password_hash|mfa_secret/);

        const other = await as(aliceTokens.access_token).get(`/users/${bob.id}`);
        expectProblem(other, 403, 'IRON_FORBIDDEN');
        const event = await auditedDenial(other, 'user.read');
        expect(event).toMatchObject({ principal: alice.id, resource: `user:${bob.id}` });

        const list = await as(aliceTokens.access_token).get('/users');
        expectProblem(list, 403, 'IRON_FORBIDDEN');
        await auditedDenial(list, 'user.list');
      });

      it('refuses alice changing bob (roles, password, status) or raising her own roles, and audits each', async () => {
        const attempts: [method: string, url: string, body: unknown, action: string][] = [
          ['PUT', `/users/${bob.id}/roles`, { roles: ['admin'] }, 'user.roles'],
          ['PUT', `/users/${alice.id}/roles`, { roles: ['admin'] }, 'user.roles'],
          ['POST', `/users/${bob.id}/password`, { new_password: 'alice-owns-bob-now-123' }, 'user.password'],
          ['POST', `/users/${bob.id}/password`, { new_password: 'alice-owns-bob-now-123', current_password: bob.password }, 'user.password'],
          ['PATCH', `/users/${bob.id}`, { disabled: true }, 'user.update'],
          ['PATCH', `/users/${bob.id}`, { unlock: true }, 'user.update'],
        ];
        for (const [method, url, body, action] of attempts) {
          const refused = await as(aliceTokens.access_token).send(method, url, body);
          expectProblem(refused, 403, 'IRON_FORBIDDEN');
          const event = await auditedDenial(refused, action);
          expect(event.principal).toBe(alice.id);
        }
        // Nothing changed: bob still logs in with his password, with his roles, enabled.
        const bobNow = await as(adminToken).get(`/users/${bob.id}`);
        expect(bobNow.body).toMatchObject({ roles: ['viewer'], disabled: false });
        expect((await as(adminToken).get(`/users/${alice.id}`)).body.roles).toEqual(['operator']);
        await login(server, bob.username, bob.password);
      });

      it('refuses alice revoking bob’s key, making keys for bob or keys above her own roles, and audits each', async () => {
        const bobsKey = await createKey({ name: 'bobs', roles: ['viewer'], user_id: bob.id });
        const own = await as(aliceTokens.access_token).send('POST', '/api-keys', { name: 'alices', roles: ['viewer'] });
        expect(own.status, JSON.stringify(own.body)).toBe(201);

        const listed = await as(aliceTokens.access_token).get('/api-keys');
        expect(listed.status).toBe(200);
        expect((listed.body.api_keys as { id: string; userId: string }[]).every((key) => key.userId === alice.id)).toBe(true);
        expect(JSON.stringify(listed.body)).not.toContain(bobsKey.id);

        const revoke = await as(aliceTokens.access_token).send('DELETE', `/api-keys/${bobsKey.id}`);
        expectProblem(revoke, 403, 'IRON_FORBIDDEN');
        expect((await auditedDenial(revoke, 'api-key.revoke')).resource).toBe(`api-key:${bobsKey.id}`);
        expect((await as(bobsKey.key).get('/auth/me')).status).toBe(200);

        const forBob = await as(aliceTokens.access_token).send('POST', '/api-keys', { name: 'for-bob', roles: ['viewer'], user_id: bob.id });
        expectProblem(forBob, 403, 'IRON_FORBIDDEN');
        await auditedDenial(forBob, 'api-key.create');

        for (const scope of [{ roles: ['admin'] }, { permissions: ['users:read'] }, { permissions: ['*:*'] }, { permissions: ['tool.*:*'] }]) {
          const above = await as(aliceTokens.access_token).send('POST', '/api-keys', { name: 'above', ...scope });
          expectProblem(above, 403, 'IRON_FORBIDDEN');
          expect((await auditedDenial(above, 'api-key.create')).reason).toMatch(/^beyond own grants: /);
        }
      });
    });

    describe('request bodies', () => {
      it('refuses a body over the limit with 413 before reading it, and audits it', async () => {
        const big = { username: 'admin', password: 'x'.repeat(BODY_LIMIT * 2) };
        const refused = await call(server, 'POST', '/auth/login', { body: big });
        expectProblem(refused, 413, 'IRON_PAYLOAD_TOO_LARGE');
        expect((await auditedDenial(refused, 'http.body-too-large')).reason).toBe(`body over ${BODY_LIMIT} bytes`);

        const authed = await call(server, 'POST', '/users', { token: adminToken, body: { username: 'huge', password: 'y'.repeat(BODY_LIMIT * 4), roles: [] } });
        expectProblem(authed, 413, 'IRON_PAYLOAD_TOO_LARGE');
        await auditedDenial(authed, 'http.body-too-large');
        expect((await as(adminToken).get('/users')).body.users.map((user: { username: string }) => user.username)).not.toContain('huge');
      });

      it('refuses an oversized body sent chunked, without a content-length, and audits it', async () => {
        const { hostname, port } = new URL(server.url);
        const reply = await new Promise<Reply>((resolve, reject) => {
          const request = http.request({ hostname, port, path: '/auth/login', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (response) => {
            let text = '';
            response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
            response.on('end', () => {
              const headers = new Headers();
              for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
              resolve({ status: response.statusCode ?? 0, headers, body: JSON.parse(text) as unknown });
            });
          });
          request.on('error', reject);
          request.write('{"username":"admin","password":"');
          for (let chunk = 0; chunk < 8; chunk++) request.write('z'.repeat(1024));
          request.end('"}');
        });
        expectProblem(reply, 413, 'IRON_PAYLOAD_TOO_LARGE');
        await auditedDenial(reply, 'http.body-too-large');
      });

      it('answers malformed JSON with 400 naming the problem', async () => {
        for (const rawBody of ['{"username": "admin", "password": ', '{"username": "admin"}}', '']) {
          const refused = await call(server, 'POST', '/auth/login', { rawBody, headers: { 'content-type': 'application/json' } });
          expectProblem(refused, 400, 'IRON_VALIDATION');
          expect(refused.body.detail).toMatch(/^malformed request: /);
        }
      });

      it('answers an unknown field with 400 naming the field, and changes nothing', async () => {
        const refused = await call(server, 'POST', '/auth/login', { body: { username: alice.username, password: alice.password, role: 'admin' } });
        expectProblem(refused, 400, 'IRON_VALIDATION');
        expect(refused.body.detail).toContain('"role"');
        expect(refused.body.issues).toEqual([expect.objectContaining({ path: 'body', message: expect.stringContaining('role') })]);

        const sneaky = await as(aliceTokens.access_token).send('PATCH', `/users/${bob.id}`, { disabled: false, roles: ['admin'] });
        expectProblem(sneaky, 400, 'IRON_VALIDATION');
        expect(sneaky.body.detail).toContain('"roles"');
      });

      it('answers a body that is not JSON with 400 and a clear message', async () => {
        const credentials = JSON.stringify({ username: alice.username, password: alice.password });
        for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
          const refused = await call(server, 'POST', '/auth/login', { rawBody: credentials, headers: { 'content-type': type } });
          expectProblem(refused, 400, 'IRON_VALIDATION');
          expect(refused.body.detail).toBe('unsupported content type; send application/json');
        }
      });
    });

    it('still has a verifiable audit chain after every attack (HTTP and CLI)', async () => {
      const verified = await as(adminToken).get('/audit/verify');
      expect(verified.status, JSON.stringify(verified.body)).toBe(200);
      expect(verified.body.ok).toBe(true);
      expect(verified.body.checked).toBeGreaterThan(50);
      const cli = await runCli(['audit', 'verify', '--data-dir', server.dataDir], { env: server.env });
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    });
  });

  describe('rate limits', () => {
    let server: RunningServer;
    let adminToken: string;

    async function auditedDenials(action: string): Promise<AuditEvent[]> {
      const found = await call(server, 'GET', `/audit/events?decision=denied&action=${encodeURIComponent(action)}&limit=1000`, { token: adminToken });
      expect(found.status, JSON.stringify(found.body)).toBe(200);
      return found.body.events as AuditEvent[];
    }

    function expectRateLimited(reply: Reply, limit: number, scope: string): void {
      expectProblem(reply, 429, 'IRON_RATE_LIMITED');
      const retryAfter = Number(reply.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(reply.headers.get('ratelimit-limit')).toBe(String(limit));
      expect(reply.headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(reply.headers.get('ratelimit-reset'))).toBe(retryAfter);
      expect(reply.body).toMatchObject({ retryAfterSeconds: retryAfter, scope });
    }

    beforeAll(async () => {
      server = await startServer({ dialect, env: LIMITED_ENV });
      adminToken = (await login(server, server.admin.username, server.admin.password)).access_token; // auth request 1
    }, 60_000);

    afterAll(async () => {
      await server?.dispose();
    });

    it('answers login attempts beyond the per-IP auth limit with 429, even with the right password or a forged X-Forwarded-For, and audits it once', async () => {
      for (let attempt = 2; attempt <= AUTH_LIMIT; attempt++) {
        const wrong = await call(server, 'POST', '/auth/login', { body: { username: 'nobody', password: 'guess-guess-guess' } });
        expectProblem(wrong, 401, 'IRON_UNAUTHENTICATED');
        expect(wrong.headers.get('ratelimit-remaining')).toBe(String(AUTH_LIMIT - attempt));
      }
      const limited = await call(server, 'POST', '/auth/login', { body: { username: server.admin.username, password: server.admin.password } });
      expectRateLimited(limited, AUTH_LIMIT, 'auth');
      for (const headers of [{ 'x-forwarded-for': '203.0.113.7' }, { 'x-forwarded-for': '127.0.0.2, 198.51.100.1' }]) {
        expectRateLimited(await call(server, 'POST', '/auth/login', { headers, body: { username: server.admin.username, password: server.admin.password } }), AUTH_LIMIT, 'auth');
      }
      // Refresh shares the bucket: guessing refresh tokens is as limited as guessing passwords.
      expectRateLimited(await call(server, 'POST', '/auth/refresh', { body: { refresh_token: 'ironcode_rt_guess' } }), AUTH_LIMIT, 'auth');

      const events = (await auditedDenials('http.rate-limit')).filter((event) => event.reason?.includes('(auth limit)'));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ requestId: limited.headers.get('x-request-id'), principal: 'anonymous', resource: 'POST /auth/login', ip: '127.0.0.1' });
      // None of the refused attempts reached the password check.
      const logins = await auditedDenials('auth.login');
      expect(logins.filter((event) => event.reason === 'unknown user')).toHaveLength(AUTH_LIMIT - 1);
    });

    it('answers a principal beyond its own limit with 429 and audits it once, without touching other principals', async () => {
      const created = await call(server, 'POST', '/api-keys', { token: adminToken, body: { name: 'chatty', roles: ['viewer'] } });
      expect(created.status).toBe(201);
      const key = created.body.key as string;
      let limited: Reply | undefined;
      for (let request = 1; request <= PRINCIPAL_LIMIT + 3; request++) {
        const reply = await call(server, 'GET', '/auth/me', { token: key });
        if (request <= PRINCIPAL_LIMIT) expect(reply.status).toBe(200);
        else {
          expectRateLimited(reply, PRINCIPAL_LIMIT, 'principal');
          limited ??= reply;
        }
      }
      expect((await call(server, 'GET', '/auth/me', { token: adminToken })).status).toBe(200);
      const events = (await auditedDenials('http.rate-limit')).filter((event) => event.principal === created.body.api_key.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ requestId: limited?.headers.get('x-request-id'), principalKind: 'api-key', resource: 'GET /auth/me' });
    });

    it('answers an address beyond the per-IP limit with 429 on every route, and audits it once', async () => {
      const before = await call(server, 'GET', '/audit/verify', { token: adminToken });
      expect(before.body.ok).toBe(true);
      let limited: Reply | undefined;
      for (let request = 0; request <= IP_LIMIT && limited === undefined; request++) {
        const reply = await call(server, 'GET', '/healthz');
        if (reply.status === 429) limited = reply;
        else expect(reply.status).toBe(200);
      }
      expect(limited).toBeDefined();
      expectRateLimited(limited as Reply, IP_LIMIT, 'ip');
      expectRateLimited(await call(server, 'GET', '/audit/events', { token: adminToken }), IP_LIMIT, 'ip');
      expectRateLimited(await call(server, 'GET', '/healthz', { headers: { 'x-forwarded-for': '198.51.100.9' } }), IP_LIMIT, 'ip');

      // The API is closed to this address for the window, so read the audit log as an insider would.
      const tail = await runCli(['audit', 'tail', '--json', '--decision', 'denied', '--action', 'http.rate-limit', '--data-dir', server.dataDir], { env: server.env });
      expect(tail.code, tail.stderr).toBe(0);
      const events = tail.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as AuditEvent)
        .filter((event) => event.reason?.includes('(ip limit)'));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ requestId: limited?.headers.get('x-request-id'), resource: 'GET /healthz' });
      const verify = await runCli(['audit', 'verify', '--data-dir', server.dataDir], { env: server.env });
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    });
  });
});
