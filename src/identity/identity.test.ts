import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, base64url, decodeProtectedHeader, generateKeyPair, importJWK } from 'jose';
import type { JWK } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, postgresUrl } from '../../test/support/postgres.js';
import type { ScratchDatabase } from '../../test/support/postgres.js';
import { createAuditLog, verifyAuditLog } from '../audit/index.js';
import type { AuditLog, AuditQuery, AuditRecord } from '../audit/index.js';
import { ConflictError, ForbiddenError, IronError, UnauthenticatedError, ValidationError, configFieldsSchema } from '../core/index.js';
import { migrateToLatest, openStore } from '../store/index.js';
import type { Store } from '../store/index.js';
import { API_KEY_PATTERN, AccountLockedError, MfaRequiredError, cliPrincipal, createIdentity } from './index.js';
import type { Identity, Principal, TokenPair } from './index.js';
import { createSecretBox } from './secret-box.js';

const PASSWORD = 'tangerine-orbit-meadow-71';
const NEW_PASSWORD = 'copper-kettle-whistle-38';
const START = Date.UTC(2031, 0, 1, 0, 0, 10);
const MINUTE = 60_000;

async function caught(promise: Promise<unknown>): Promise<IronError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IronError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

function caughtSync(fn: () => unknown): IronError {
  try {
    fn();
  } catch (error) {
    if (error instanceof IronError) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

const json = (value: unknown) => base64url.encode(JSON.stringify(value));

describe.each(['sqlite', 'postgres'] as const)('identity on %s', (dialect) => {
  const auth = configFieldsSchema.parse({}).auth;
  const secretKey = randomBytes(32);
  const auditKey = randomBytes(32);
  let t = START;
  const clock = { now: () => t };
  const advance = (ms: number) => {
    t += ms;
  };

  let dataDir: string;
  let scratch: ScratchDatabase | undefined;
  let store: Store;
  let audit: AuditLog;
  let identity: Identity;
  let admin: Principal;
  let adminPassword: string;

  const makeIdentity = async (overrides: Partial<typeof auth> = {}): Promise<Identity> => {
    const made = createIdentity({ store, audit, auth: { ...auth, ...overrides }, secretKey, clock });
    await made.start();
    return made;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ironcode-identity-'));
    if (dialect === 'postgres') {
      scratch = await createScratchDatabase(postgresUrl());
      store = openStore({ dataDir, databaseUrl: scratch.url });
    } else {
      store = openStore({ dataDir });
    }
    expect(store.dialect).toBe(dialect);
    await migrateToLatest(store);
    audit = createAuditLog(store, { key: auditKey, clock });
    identity = await makeIdentity();
  });

  afterAll(async () => {
    await audit?.close();
    await store?.close();
    await scratch?.drop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The newest audit record matching the query. */
  async function latest(query: AuditQuery): Promise<AuditRecord | undefined> {
    const [record] = await audit.query({ ...query, order: 'desc', limit: 1 });
    return record;
  }

  async function newUser(username: string, roles: string[]): Promise<{ id: string; username: string }> {
    const view = await identity.users.create(admin, { username, password: PASSWORD, roles });
    return { id: view.id, username: view.username };
  }

  async function signIn(username: string, password = PASSWORD, via: Identity = identity): Promise<{ tokens: TokenPair; principal: Principal }> {
    const tokens = await via.login({ username, password });
    const principal = await via.authenticate(tokens.access_token, {});
    return { tokens, principal };
  }

  async function refused(credential: string, meta = {}, via: Identity = identity): Promise<string | null> {
    const error = await caught(via.authenticate(credential, meta));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error.message).toBe('invalid or expired credentials');
    const record = await latest({ decision: 'denied' });
    return record?.reason ?? null;
  }

  describe('bootstrap and users', () => {
    it('creates the first admin once and never again', async () => {
      const first = await identity.users.bootstrapAdmin();
      expect(first?.username).toBe('admin');
      expect(first?.password.length).toBeGreaterThanOrEqual(auth.passwordMinLength);
      adminPassword = first?.password ?? '';
      expect(await latest({ action: 'user.create' })).toMatchObject({ principal: 'system:bootstrap', principalKind: 'service', decision: 'allowed' });
      expect(await identity.users.bootstrapAdmin()).toBeUndefined();
      const signedIn = await signIn('admin', adminPassword);
      expect(signedIn.principal).toMatchObject({ kind: 'user', name: 'admin', roles: ['admin'] });
      admin = signedIn.principal;
      const { count } = await store.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
      expect(Number(count)).toBe(1);
    });

    it.each([
      ['a bad username', { username: 'x', password: PASSWORD, roles: ['viewer'] }, 'username'],
      ['a username with spaces', { username: 'bad name', password: PASSWORD, roles: ['viewer'] }, 'username'],
      ['a weak password', { username: 'weakling', password: 'password1234', roles: ['viewer'] }, 'password'],
      ['a short password', { username: 'shorty', password: 'abc123', roles: ['viewer'] }, 'password'],
      ['a password containing the username', { username: 'carlos', password: 'my-name-is-carlos-1', roles: ['viewer'] }, 'password'],
      ['an unknown role', { username: 'roleless', password: PASSWORD, roles: ['superuser'] }, 'roles'],
    ])('refuses %s and names the field', async (_name, input, field) => {
      const error = await caught(identity.users.create(admin, input));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.path)).toContain(field);
      expect(await store.db.selectFrom('users').select('id').where('username', '=', input.username).executeTakeFirst()).toBeUndefined();
    });

    it('refuses a duplicate username, whatever its case', async () => {
      await newUser('carol', ['viewer']);
      expect(await caught(identity.users.create(admin, { username: 'carol', password: PASSWORD, roles: ['viewer'] }))).toBeInstanceOf(ConflictError);
      expect(await caught(identity.users.create(admin, { username: ' Carol ', password: PASSWORD, roles: ['viewer'] }))).toBeInstanceOf(ConflictError);
      const last = await latest({ action: 'user.create' });
      expect(last).toMatchObject({ principal: admin.id, decision: 'allowed', args: { username: 'carol', roles: ['viewer'] } });
    });

    it('records who created a user and never stores the password in the clear', async () => {
      const dave = await newUser('dave', ['operator']);
      expect(await latest({ action: 'user.create' })).toMatchObject({ principal: admin.id, principalKind: 'user', resource: `user:${dave.id}`, decision: 'allowed' });
      const row = await store.db.selectFrom('users').selectAll().where('id', '=', dave.id).executeTakeFirstOrThrow();
      expect(Object.values(row).some((value) => String(value).includes(PASSWORD))).toBe(false);
      expect(row.password_hash).toMatch(/^scrypt\$/);
    });
  });

  describe('login', () => {
    let alice: { id: string; username: string };
    beforeAll(async () => {
      alice = await newUser('alice', ['viewer']);
    });

    it('returns a token pair whose access token authenticates as the user', async () => {
      const tokens = await identity.login({ username: 'alice', password: PASSWORD }, { ip: '192.0.2.1', requestId: 'req-1' });
      expect(tokens.token_type).toBe('Bearer');
      expect(tokens.expires_in).toBe(900);
      expect(tokens.refresh_token).toMatch(/^ironcode_rt_[0-9A-Za-z]{43}$/);
      expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      const principal = await identity.authenticate(tokens.access_token, {});
      expect(principal).toMatchObject({ kind: 'user', id: alice.id, name: 'alice', roles: ['viewer'], permissions: [], userId: alice.id });
      expect(principal.sessionId).toMatch(/^ses_/);
      expect(principal.ceiling).toBeUndefined();
      expect(await latest({ action: 'auth.login' })).toMatchObject({
        principal: alice.id,
        decision: 'allowed',
        args: { factor: 'password', session: principal.sessionId },
        ip: '192.0.2.1',
        requestId: 'req-1',
      });
    });

    it('accepts the username in any case and with surrounding spaces', async () => {
      const { principal } = await signIn(' ALICE ');
      expect(principal.id).toBe(alice.id);
    });

    it('refuses a wrong password', async () => {
      const error = await caught(identity.login({ username: 'alice', password: 'not-the-password-1' }));
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect(error.message).toBe('invalid username or password');
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: alice.id, decision: 'denied', reason: 'wrong password' });
      await signIn('alice'); // and resets the failure count
    });

    it('refuses an unknown user with the same message', async () => {
      const error = await caught(identity.login({ username: 'mallory', password: PASSWORD }));
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect(error.message).toBe('invalid username or password');
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: 'anonymous', principalKind: 'anonymous', resource: 'user:mallory', decision: 'denied', reason: 'unknown user' });
    });

    it('refuses malformed input with a validation error', async () => {
      expect(await caught(identity.login({ username: 'alice' }))).toBeInstanceOf(ValidationError);
      expect(await caught(identity.login({ username: 'alice', password: PASSWORD, admin: true }))).toBeInstanceOf(ValidationError);
      expect(await caught(identity.login('alice:password'))).toBeInstanceOf(ValidationError);
    });

    it('locks the account after 5 failures within 15 minutes, even for the right password, and unlocks after 30', async () => {
      const lena = await newUser('lena', ['viewer']);
      for (let i = 1; i <= 4; i++) {
        expect(await caught(identity.login({ username: 'lena', password: `wrong-password-${i}` }))).toBeInstanceOf(UnauthenticatedError);
        advance(2 * MINUTE);
      }
      const fifth = await caught(identity.login({ username: 'lena', password: 'wrong-password-5' }));
      expect(fifth).toBeInstanceOf(UnauthenticatedError);
      const lockedAt = t;
      expect(await latest({ action: 'auth.lockout' })).toMatchObject({ principal: lena.id, decision: 'denied', reason: expect.stringContaining('5 failed password checks') });

      const locked = await caught(identity.login({ username: 'lena', password: PASSWORD }));
      expect(locked).toBeInstanceOf(AccountLockedError);
      expect(locked.kind).toBe('unauthenticated');
      expect(locked.status).toBe(401);
      expect(locked.details).toEqual({ lockedUntil: new Date(lockedAt + 30 * MINUTE).toISOString() });
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: lena.id, decision: 'denied', reason: 'account locked' });

      advance(29 * MINUTE);
      expect(await caught(identity.login({ username: 'lena', password: PASSWORD }))).toBeInstanceOf(AccountLockedError);
      advance(MINUTE + 1000);
      const { principal } = await signIn('lena');
      expect(principal.id).toBe(lena.id);
      const view = await identity.users.get(admin, lena.id);
      expect(view.locked).toBe(false);
    });

    it('does not lock for failures spread over more than 15 minutes', async () => {
      const sam = await newUser('sam', ['viewer']);
      for (let i = 1; i <= 5; i++) {
        expect(await caught(identity.login({ username: 'sam', password: `wrong-password-${i}` }))).toBeInstanceOf(UnauthenticatedError);
        advance(4 * MINUTE);
      }
      expect(await audit.query({ action: 'auth.lockout', principal: sam.id })).toEqual([]);
      expect(await audit.query({ action: 'auth.login', principal: sam.id, decision: 'denied' })).toHaveLength(5);
      const { principal } = await signIn('sam');
      expect(principal.name).toBe('sam');
    });

    it('counts parallel guesses one by one, so they cannot slip past the lockout', async () => {
      const pat = await newUser('pat', ['viewer']);
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => identity.login({ username: 'pat', password: `parallel-guess-${i}` })));
      expect(results.every((result) => result.status === 'rejected')).toBe(true);
      const locked = await caught(identity.login({ username: 'pat', password: PASSWORD }));
      expect(locked).toBeInstanceOf(AccountLockedError);

      // An admin can lift the lock.
      await identity.users.updateStatus(admin, pat.id, { unlock: true });
      expect(await latest({ action: 'user.update' })).toMatchObject({ principal: admin.id, resource: `user:${pat.id}`, decision: 'allowed', args: { unlock: true } });
      expect((await signIn('pat')).principal.id).toBe(pat.id);
    });

    it('refuses a disabled user, ends their sessions and their keys', async () => {
      const dora = await newUser('dora', ['viewer']);
      const { tokens } = await signIn('dora');
      const { key } = await identity.apiKeys.create(cliPrincipal(), { name: 'dora-key', roles: ['viewer'], userId: dora.id });
      expect((await identity.authenticate(key, {})).userId).toBe(dora.id);

      await identity.users.updateStatus(admin, dora.id, { disabled: true });
      const error = await caught(identity.login({ username: 'dora', password: PASSWORD }));
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect(error.message).toBe('invalid username or password');
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: dora.id, decision: 'denied', reason: 'account disabled' });
      expect(await refused(tokens.access_token)).toMatch(/session ended|disabled/);
      expect(await caught(identity.refresh(tokens.refresh_token))).toBeInstanceOf(UnauthenticatedError);
      expect(await refused(key)).toMatch(/disabled/);

      await identity.users.updateStatus(admin, dora.id, { disabled: false });
      expect((await signIn('dora')).principal.id).toBe(dora.id);
      expect(await caught(identity.users.updateStatus(admin, admin.id, { disabled: true }))).toBeInstanceOf(ValidationError);
    });
  });

  describe('access tokens', () => {
    let alice: Principal;
    let tokens: TokenPair;

    beforeAll(async () => {
      ({ principal: alice, tokens } = await signIn('alice'));
    });

    const activeKid = async () => decodeProtectedHeader((await identity.login({ username: 'alice', password: PASSWORD })).access_token).kid ?? '';

    /** Signs with the real private key from the store: to prove each claim check bites on its own. */
    async function forge(options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; omit?: string[] } = {}): Promise<string> {
      const kid = await activeKid();
      const row = await store.db.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirstOrThrow();
      const privateKey = await importJWK(JSON.parse(createSecretBox(secretKey, 'signing-key').open(row.private_jwk)) as JWK, 'ES256');
      const now = Math.floor(t / 1000);
      const claims: Record<string, unknown> = {
        iss: auth.issuer,
        aud: auth.audience,
        sub: alice.id,
        sid: alice.sessionId,
        jti: 'jti_forged',
        iat: now,
        nbf: now,
        exp: now + 900,
        ...options.claims,
      };
      for (const name of options.omit ?? []) delete claims[name];
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...options.header }).sign(privateKey);
    }

    it('accepts a token with every claim right (the control for the forgeries below)', async () => {
      expect((await identity.authenticate(await forge(), {})).id).toBe(alice.id);
    });

    it('refuses junk', async () => {
      expect(await refused('not-a-token')).toBe('not a JWT');
      expect(await refused('')).toBe('not a JWT');
      expect(await latest({ action: 'auth.token' })).toMatchObject({ principal: 'anonymous', decision: 'denied' });
    });

    it('refuses an expired token', async () => {
      const { tokens: fresh } = await signIn('alice');
      advance(900_000 + 6_000);
      expect(await refused(fresh.access_token)).toBe('token expired');
      expect(await latest({ action: 'auth.token' })).toMatchObject({ decision: 'denied', reason: 'token expired' });
    });

    it('refuses a token signed by a different key', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const header = decodeProtectedHeader(tokens.access_token);
      const [, payload] = tokens.access_token.split('.');
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? ''))) as Record<string, unknown>;
      const sameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: header.kid, typ: 'at+jwt' }).sign(privateKey);
      expect(await refused(sameKid)).toBe('signature invalid');
      const otherKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'attacker-key', typ: 'at+jwt' }).sign(privateKey);
      expect(await refused(otherKid)).toMatch(/unknown or expired signing key/);
      const noKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
      expect(await refused(noKid)).toMatch(/no key/);
    });

    it('refuses a tampered payload', async () => {
      const { tokens: fresh } = await signIn('alice');
      const [header, payload, signature] = fresh.access_token.split('.');
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? ''))) as Record<string, unknown>;
      const tampered = `${header}.${json({ ...claims, sub: admin.id })}.${signature}`;
      expect(await refused(tampered)).toBe('signature invalid');
      const stretched = `${header}.${json({ ...claims, exp: Number(claims.exp) + 86_400 })}.${signature}`;
      expect(await refused(stretched)).toBe('signature invalid');
    });

    it('refuses alg none', async () => {
      const header = decodeProtectedHeader(tokens.access_token);
      const [, payload] = tokens.access_token.split('.');
      expect(await refused(`${json({ alg: 'none', kid: header.kid, typ: 'at+jwt' })}.${payload}.`)).toBe('algorithm none is not accepted');
      expect(await refused(`${json({ alg: 'None', kid: header.kid, typ: 'at+jwt' })}.${payload}.`)).toMatch(/not accepted/);
    });

    it('refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
      const jwk = (await identity.jwks()).keys[0];
      expect(jwk).toBeDefined();
      const [, payload] = tokens.access_token.split('.');
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? ''))) as Record<string, unknown>;
      for (const secret of [JSON.stringify(jwk), `${String(jwk?.x)}${String(jwk?.y)}`]) {
        const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: jwk?.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
        expect(await refused(confused)).toBe('algorithm HS256 is not accepted');
      }
    });

    it('refuses tokens of another issuer or audience (another deployment over the same keys)', async () => {
      const otherIssuer = await makeIdentity({ issuer: 'someone-else' });
      const otherAudience = await makeIdentity({ audience: 'another-api' });
      const ours = (await signIn('alice')).tokens.access_token;
      const theirs = (await signIn('alice', PASSWORD, otherIssuer)).tokens.access_token;
      const forOtherApi = (await signIn('alice', PASSWORD, otherAudience)).tokens.access_token;
      // Same signing key, so only the claims differ.
      expect(decodeProtectedHeader(theirs).kid).toBe(decodeProtectedHeader(ours).kid);
      expect(await refused(ours, {}, otherIssuer)).toMatch(/claim iss invalid/);
      expect(await refused(theirs)).toMatch(/claim iss invalid/);
      expect(await refused(ours, {}, otherAudience)).toMatch(/claim aud invalid/);
      expect(await refused(forOtherApi)).toMatch(/claim aud invalid/);
      expect((await identity.authenticate(ours, {})).id).toBe(alice.id);
    });

    it('refuses a token that is not valid yet', async () => {
      expect(await refused(await forge({ claims: { nbf: Math.floor(t / 1000) + 120 } }))).toMatch(/nbf/);
      // The same through the clock: a token issued now, first shown to a server two minutes behind.
      const fresh = await identity.login({ username: 'alice', password: PASSWORD });
      advance(-2 * MINUTE);
      try {
        expect(await refused(fresh.access_token)).toMatch(/nbf/);
      } finally {
        advance(2 * MINUTE);
      }
      expect((await identity.authenticate(fresh.access_token, {})).id).toBe(alice.id);
    });

    it.each([
      ['a wrong issuer', { claims: { iss: 'evil' } }, /iss/],
      ['a wrong audience', { claims: { aud: 'evil' } }, /aud/],
      ['an expiry in the past', { claims: { exp: Math.floor(START / 1000) - 10 } }, /expired/],
      ['another token type', { header: { typ: 'JWT' } }, /typ/],
      ['no session claim', { omit: ['sid'] }, /sid/],
      ['no expiry', { omit: ['exp'] }, /exp/],
      ['no token id', { omit: ['jti'] }, /jti/],
      ['a session that does not exist', { claims: { sid: 'ses_nonexistent' } }, /session ended/],
      ['a numeric session claim', { claims: { sid: 42 } }, /malformed claims/],
    ])('refuses a correctly signed token with %s', async (_name, options, reason) => {
      expect(await refused(await forge(options))).toMatch(reason);
    });

    it('refuses a correctly signed token for a user who does not exist', async () => {
      // The session exists, the user in `sub` does not match it: the session's user is authoritative.
      expect(await refused(await forge({ claims: { sub: 'usr_nobody' } }))).toMatch(/disabled or gone|session/);
    });
  });

  describe('refresh, logout and password change', () => {
    it('rotates the refresh token on every use', async () => {
      const { tokens: first, principal } = await signIn('alice');
      const second = await identity.refresh(first.refresh_token, { ip: '192.0.2.9' });
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.refresh_token).toMatch(/^ironcode_rt_/);
      const again = await identity.authenticate(second.access_token, {});
      expect(again.sessionId).toBe(principal.sessionId);
      expect(await latest({ action: 'auth.refresh' })).toMatchObject({ principal: principal.id, resource: `session:${principal.sessionId}`, decision: 'allowed', ip: '192.0.2.9' });
      const third = await identity.refresh(second.refresh_token);
      expect(third.refresh_token).not.toBe(second.refresh_token);
    });

    it('treats a reused refresh token as theft: refuses it and ends the whole session', async () => {
      const { tokens: first, principal } = await signIn('alice');
      const second = await identity.refresh(first.refresh_token);
      expect(await caught(identity.refresh(first.refresh_token))).toBeInstanceOf(UnauthenticatedError);
      expect(await latest({ action: 'auth.refresh-reuse' })).toMatchObject({
        principal: principal.id,
        principalKind: 'user',
        resource: `session:${principal.sessionId}`,
        decision: 'denied',
        reason: 'refresh token reused: session revoked',
      });
      expect(await caught(identity.refresh(second.refresh_token))).toBeInstanceOf(UnauthenticatedError);
      expect(await latest({ action: 'auth.refresh' })).toMatchObject({ decision: 'denied', reason: 'refresh token session-ended' });
      expect(await refused(second.access_token)).toMatch(/session ended/);
      expect(await refused(first.access_token)).toMatch(/session ended/);
      const session = await store.db.selectFrom('sessions').selectAll().where('id', '=', principal.sessionId ?? '').executeTakeFirstOrThrow();
      expect(session.revoked_reason).toBe('refresh token reused');
    });

    it('refuses an unknown refresh token', async () => {
      expect(await caught(identity.refresh('ironcode_rt_' + 'A'.repeat(43)))).toBeInstanceOf(UnauthenticatedError);
      expect(await latest({ action: 'auth.refresh' })).toMatchObject({ principal: 'anonymous', decision: 'denied', reason: 'refresh token unknown' });
    });

    it('refuses a refresh token after the session expired', async () => {
      const short = await makeIdentity({ refreshTokenSeconds: 600 });
      const { tokens } = await signIn('alice', PASSWORD, short);
      advance(601_000);
      expect(await caught(short.refresh(tokens.refresh_token))).toBeInstanceOf(UnauthenticatedError);
      expect(await latest({ action: 'auth.refresh' })).toMatchObject({ decision: 'denied', reason: 'refresh token expired' });
    });

    it('ends the session at logout, and only that session', async () => {
      const one = await signIn('alice');
      const two = await signIn('alice');
      await identity.logout(one.principal, { requestId: 'bye' });
      expect(await latest({ action: 'auth.logout' })).toMatchObject({ principal: one.principal.id, resource: `session:${one.principal.sessionId}`, decision: 'allowed', requestId: 'bye' });
      expect(await refused(one.tokens.access_token)).toMatch(/session ended/);
      expect(await caught(identity.refresh(one.tokens.refresh_token))).toBeInstanceOf(UnauthenticatedError);
      expect((await identity.authenticate(two.tokens.access_token, {})).sessionId).toBe(two.principal.sessionId);
      expect(await caught(identity.logout(cliPrincipal()))).toBeInstanceOf(ValidationError);
    });

    it('counts wrong current passwords towards the lockout, so a stolen token cannot guess the password', async () => {
      const olga = await newUser('olga', ['viewer']);
      const session = await signIn('olga');
      for (let i = 0; i < 5; i++) {
        const wrong = await caught(identity.users.changePassword(session.principal, olga.id, { currentPassword: `guess-number-${i}-x`, newPassword: NEW_PASSWORD }));
        expect(wrong).toBeInstanceOf(ValidationError);
      }
      expect(await latest({ action: 'auth.lockout' })).toMatchObject({ principal: olga.id, reason: expect.stringContaining('last: user.password') });
      // Locked now: even the right current password is refused, and so is login.
      expect(await caught(identity.users.changePassword(session.principal, olga.id, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }))).toBeInstanceOf(AccountLockedError);
      expect(await caught(identity.login({ username: 'olga', password: PASSWORD }))).toBeInstanceOf(AccountLockedError);
    });

    it('ends every session when the password changes', async () => {
      const pete = await newUser('pete', ['viewer']);
      const one = await signIn('pete');
      const two = await signIn('pete');

      const wrong = await caught(identity.users.changePassword(one.principal, pete.id, { currentPassword: 'not-my-password-9', newPassword: NEW_PASSWORD }));
      expect(wrong).toBeInstanceOf(ValidationError);
      expect((wrong as ValidationError).issues[0]?.path).toBe('currentPassword');
      expect(await latest({ action: 'user.password' })).toMatchObject({ principal: pete.id, decision: 'denied', reason: 'wrong password' });
      const missing = await caught(identity.users.changePassword(one.principal, pete.id, { newPassword: NEW_PASSWORD }));
      expect(missing).toBeInstanceOf(ValidationError);
      const weak = await caught(identity.users.changePassword(one.principal, pete.id, { currentPassword: PASSWORD, newPassword: 'password1234' }));
      expect((weak as ValidationError).issues[0]?.path).toBe('newPassword');
      expect((await identity.authenticate(one.tokens.access_token, {})).id).toBe(pete.id);

      await identity.users.changePassword(one.principal, pete.id, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(await latest({ action: 'user.password' })).toMatchObject({ principal: pete.id, resource: `user:${pete.id}`, decision: 'allowed' });
      for (const session of [one, two]) {
        expect(await refused(session.tokens.access_token)).toMatch(/session ended/);
        expect(await caught(identity.refresh(session.tokens.refresh_token))).toBeInstanceOf(UnauthenticatedError);
      }
      expect(await caught(identity.login({ username: 'pete', password: PASSWORD }))).toBeInstanceOf(UnauthenticatedError);
      const fresh = await signIn('pete', NEW_PASSWORD);

      // An administrator resets it without the current one, and that ends sessions too.
      await identity.users.changePassword(admin, pete.id, { newPassword: PASSWORD });
      expect(await refused(fresh.tokens.access_token)).toMatch(/session ended/);
      await signIn('pete', PASSWORD);
    });
  });

  describe('signing key rotation', () => {
    it('keeps old tokens valid until they expire, publishes both keys and signs new tokens with the new one', async () => {
      const beside = await makeIdentity(); // another server instance over the same store
      const { tokens: before, principal: alice } = await signIn('alice');
      const oldKid = decodeProtectedHeader(before.access_token).kid;
      expect((await identity.jwks()).keys.map((key) => key.kid)).toContain(oldKid);

      const viewerTry = await caught(identity.rotateSigningKey(alice));
      expect(viewerTry).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'signing-key.rotate' })).toMatchObject({ principal: alice.id, decision: 'denied', reason: 'lacks permission signing-keys:rotate' });

      const rotation = await identity.rotateSigningKey(admin, { requestId: 'rotate-1' });
      expect(rotation.retired).toEqual([oldKid]);
      expect(rotation.active).not.toBe(oldKid);
      expect(await latest({ action: 'signing-key.rotate' })).toMatchObject({ principal: admin.id, resource: `signing-key:${rotation.active}`, decision: 'allowed' });

      expect((await identity.authenticate(before.access_token, {})).id).toBe(alice.id);
      const published = (await identity.jwks()).keys;
      expect(published.map((key) => key.kid).sort()).toEqual([oldKid, rotation.active].sort());
      for (const key of published) {
        expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
        expect(key).not.toHaveProperty('d');
      }

      const after = await signIn('alice');
      expect(decodeProtectedHeader(after.tokens.access_token).kid).toBe(rotation.active);

      // The other instance picks up the rotation within seconds, and verifies tokens from this one.
      advance(6_000);
      const fromBeside = await signIn('alice', PASSWORD, beside);
      expect(decodeProtectedHeader(fromBeside.tokens.access_token).kid).toBe(rotation.active);
      expect((await beside.authenticate(after.tokens.access_token, {})).id).toBe(alice.id);
      expect((await beside.authenticate(before.access_token, {})).id).toBe(alice.id);

      // Once every token the old key signed has expired, it is gone from the key set.
      advance((900 + 61) * 1000);
      expect((await identity.jwks()).keys.map((key) => key.kid)).toEqual([rotation.active]);
      expect(await refused(before.access_token)).toMatch(/expired/);
      expect((await beside.jwks()).keys.map((key) => key.kid)).toEqual([rotation.active]);
    });

    it('seals private keys at rest', async () => {
      const rows = await store.db.selectFrom('signing_keys').selectAll().execute();
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const row of rows) {
        expect(row.private_jwk).toMatch(/^v1\./);
        expect(row.private_jwk).not.toContain('"d"');
        expect(JSON.parse(row.public_jwk)).not.toHaveProperty('d');
      }
    });
  });

  describe('MFA', () => {
    let mira: { id: string };
    let miraP: Principal;
    let secret: string;
    let recoveryCodes: string[];
    const codeNow = () => generate({ secret, epoch: Math.floor(t / 1000) });

    beforeAll(async () => {
      mira = await newUser('mira', ['viewer']);
      miraP = (await signIn('mira')).principal;
    });

    it('enrols: an otpauth URI, then a code confirms it and yields 10 recovery codes', async () => {
      const begun = await identity.mfa.begin(miraP, mira.id);
      secret = begun.secret;
      expect(begun.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
      expect(begun.otpauthUri).toContain(`secret=${secret}`);
      expect(begun.otpauthUri).toContain('issuer=ironcode');
      expect(begun.otpauthUri).toContain('mira');
      expect(await latest({ action: 'auth.mfa.enrol' })).toMatchObject({ principal: mira.id, decision: 'allowed' });

      const row = await store.db.selectFrom('users').selectAll().where('id', '=', mira.id).executeTakeFirstOrThrow();
      expect(row.mfa_pending_secret).not.toBeNull();
      expect(row.mfa_pending_secret).not.toContain(secret);
      expect(row.mfa_enabled_at).toBeNull();

      const good = await codeNow();
      const bad = String((Number(good) + 500_000) % 1_000_000).padStart(6, '0');
      const wrong = await caught(identity.mfa.confirm(miraP, mira.id, bad));
      expect(wrong).toBeInstanceOf(ValidationError);
      expect(await latest({ action: 'auth.mfa.enable' })).toMatchObject({ principal: mira.id, decision: 'denied', reason: 'wrong code' });

      ({ recoveryCodes } = await identity.mfa.confirm(miraP, mira.id, good));
      expect(recoveryCodes).toHaveLength(10);
      expect(new Set(recoveryCodes).size).toBe(10);
      for (const code of recoveryCodes) expect(code).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
      expect(await latest({ action: 'auth.mfa.enable' })).toMatchObject({ principal: mira.id, decision: 'allowed' });
      const enabled = await store.db.selectFrom('users').selectAll().where('id', '=', mira.id).executeTakeFirstOrThrow();
      expect(enabled.mfa_secret).not.toContain(secret);
      expect(enabled.mfa_pending_secret).toBeNull();
      const stored = await store.db.selectFrom('mfa_recovery_codes').selectAll().where('user_id', '=', mira.id).execute();
      expect(stored).toHaveLength(10);
      for (const code of recoveryCodes) expect(stored.some((entry) => entry.code_hash.includes(code))).toBe(false);
      expect((await identity.users.get(miraP, mira.id)).mfaEnabled).toBe(true);

      // The confirmation code's time step is spent: it cannot log in.
      const replay = await caught(identity.login({ username: 'mira', password: PASSWORD, totp: good }));
      expect(replay).toBeInstanceOf(UnauthenticatedError);
      expect(replay.message).toBe('invalid second factor');
    });

    it('requires the second factor at login', async () => {
      const error = await caught(identity.login({ username: 'mira', password: PASSWORD }));
      expect(error).toBeInstanceOf(MfaRequiredError);
      expect(error.kind).toBe('unauthenticated');
      expect(error.details).toEqual({ mfa: 'required' });
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: mira.id, decision: 'denied', reason: 'second factor required' });
      // A wrong password is still just a wrong password, whether or not MFA is on.
      expect(await caught(identity.login({ username: 'mira', password: 'not-the-password-1', totp: await codeNow() }))).not.toBeInstanceOf(MfaRequiredError);
    });

    it('accepts a current code once, and refuses the same code again in the same time step', async () => {
      advance(30_000);
      const code = await codeNow();
      const tokens = await identity.login({ username: 'mira', password: PASSWORD, totp: code });
      expect((await identity.authenticate(tokens.access_token, {})).id).toBe(mira.id);
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: mira.id, decision: 'allowed', args: { factor: 'password+totp' } });

      const replay = await caught(identity.login({ username: 'mira', password: PASSWORD, totp: code }));
      expect(replay).toBeInstanceOf(UnauthenticatedError);
      expect(await latest({ action: 'auth.login' })).toMatchObject({ principal: mira.id, decision: 'denied', reason: 'wrong second factor' });

      advance(30_000);
      await identity.login({ username: 'mira', password: PASSWORD, totp: await codeNow() });
    });

    it('refuses, without crashing, when the clock is behind the last accepted code', async () => {
      advance(-5 * 30_000);
      try {
        const error = await caught(identity.login({ username: 'mira', password: PASSWORD, totp: await codeNow() }));
        expect(error).toBeInstanceOf(UnauthenticatedError);
      } finally {
        advance(5 * 30_000);
      }
    });

    it('accepts each recovery code once, however it is typed', async () => {
      const [first = '', second = ''] = recoveryCodes;
      await identity.login({ username: 'mira', password: PASSWORD, totp: first });
      expect(await latest({ action: 'auth.login' })).toMatchObject({ decision: 'allowed', args: { factor: 'password+recovery-code' } });
      expect(await caught(identity.login({ username: 'mira', password: PASSWORD, totp: first }))).toBeInstanceOf(UnauthenticatedError);
      await identity.login({ username: 'mira', password: PASSWORD, totp: ` ${second.toUpperCase().replace('-', ' ')} ` });
      expect(await caught(identity.login({ username: 'mira', password: PASSWORD, totp: second }))).toBeInstanceOf(UnauthenticatedError);
      const used = await store.db.selectFrom('mfa_recovery_codes').select('used_at').where('user_id', '=', mira.id).where('used_at', 'is not', null).execute();
      expect(used).toHaveLength(2);
    });

    it('lets only the user manage their own MFA', async () => {
      expect(await caught(identity.mfa.begin(miraP, mira.id))).toBeInstanceOf(ConflictError);
      const byAdmin = await caught(identity.mfa.begin(admin, mira.id));
      expect(byAdmin.kind === 'validation' || byAdmin.kind === 'forbidden').toBe(true);
      expect(await latest({ action: 'auth.mfa.enrol' })).toMatchObject({ principal: admin.id, resource: `user:${mira.id}`, decision: 'denied' });
      expect(await caught(identity.mfa.disable(admin, mira.id, adminPassword))).toBeInstanceOf(IronError);
      expect(await latest({ action: 'auth.mfa.disable' })).toMatchObject({ principal: admin.id, decision: 'denied' });
    });

    it('takes the password to disable MFA', async () => {
      const wrong = await caught(identity.mfa.disable(miraP, mira.id, 'not-the-password-1'));
      expect(wrong).toBeInstanceOf(ValidationError);
      expect(await latest({ action: 'auth.mfa.disable' })).toMatchObject({ principal: mira.id, decision: 'denied', reason: 'wrong password' });
      expect(await caught(identity.login({ username: 'mira', password: PASSWORD }))).toBeInstanceOf(MfaRequiredError);

      await identity.mfa.disable(miraP, mira.id, PASSWORD);
      expect(await latest({ action: 'auth.mfa.disable' })).toMatchObject({ principal: mira.id, decision: 'allowed' });
      await signIn('mira');
      expect(await store.db.selectFrom('mfa_recovery_codes').select('user_id').where('user_id', '=', mira.id).execute()).toEqual([]);
      expect(await caught(identity.mfa.confirm(miraP, mira.id, await codeNow()))).toBeInstanceOf(ConflictError);
    });
  });

  describe('API keys', () => {
    let opal: { id: string };
    let otto: { id: string };
    let opalP: Principal;
    let ottoP: Principal;
    let aliceP: Principal;

    beforeAll(async () => {
      opal = await newUser('opal', ['operator']);
      otto = await newUser('otto', ['operator']);
      opalP = (await signIn('opal')).principal;
      ottoP = (await signIn('otto')).principal;
      aliceP = (await signIn('alice')).principal;
    });

    it('creates a key of a fixed shape and stores only a hash of it', async () => {
      const { key, view } = await identity.apiKeys.create(cliPrincipal(), { name: 'ci-runner', roles: ['ci'] });
      expect(key).toMatch(API_KEY_PATTERN);
      expect(key).toMatch(/^ironcode_[0-9A-Za-z]{56}$/);
      expect(view).toMatchObject({ name: 'ci-runner', userId: null, roles: ['ci'], permissions: [], expiresAt: null, revokedAt: null, createdBy: 'system:cli' });
      expect(view.id).toMatch(/^key_[0-9A-Za-z]{16}$/);
      expect(key.slice(9, 25)).toBe(view.id.slice(4));

      const secret = key.slice(25);
      const row = await store.db.selectFrom('api_keys').selectAll().where('id', '=', view.id).executeTakeFirstOrThrow();
      for (const value of Object.values(row)) {
        expect(String(value)).not.toContain(secret);
        expect(String(value)).not.toContain(key);
      }
      expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.secret_hash).toBe(createHash('sha256').update(secret).digest('hex'));

      const record = await latest({ action: 'api-key.create' });
      expect(record).toMatchObject({ principal: 'system:cli', principalKind: 'service', resource: `api-key:${view.id}`, decision: 'allowed' });
      expect(JSON.stringify(record)).not.toContain(secret);
    });

    it('authenticates a service key as a service, without a ceiling', async () => {
      const { key, view } = await identity.apiKeys.create(cliPrincipal(), { name: 'pipeline', roles: ['ci'] });
      const principal = await identity.authenticate(key, { ip: '198.51.100.4' });
      expect(principal).toMatchObject({ kind: 'service', id: view.id, name: 'pipeline', roles: ['ci'], permissions: [] });
      expect(principal.ceiling).toBeUndefined();
      expect(principal.userId).toBeUndefined();
      expect(identity.rbac.can(principal, 'tool.desktop.run_command:execute')).toBe(true);
      expect(identity.rbac.can(principal, 'tool.desktop.write_file:write')).toBe(false);
      const used = await store.db.selectFrom('api_keys').select('last_used_at').where('id', '=', view.id).executeTakeFirstOrThrow();
      expect(used.last_used_at).toBe(t);
    });

    it('refuses a wrong secret, an unknown id and a malformed key', async () => {
      const { key, view } = await identity.apiKeys.create(cliPrincipal(), { name: 'probe', roles: ['viewer'] });
      const last = key.at(-1) === 'A' ? 'B' : 'A';
      expect(await refused(key.slice(0, -1) + last)).toBe('wrong secret');
      expect(await latest({ action: 'auth.api-key' })).toMatchObject({ principal: view.id, decision: 'denied', reason: 'wrong secret' });
      expect(await refused('ironcode_' + 'Z'.repeat(56))).toBe('unknown key id key_' + 'Z'.repeat(16));
      expect(await refused(key + 'x')).toBe('not an ironcode API key');
      expect(await refused('ironcode_short')).toBe('not an ironcode API key');
    });

    it('bounds a user’s key by the user’s current roles', async () => {
      const { key, view } = await identity.apiKeys.create(opalP, { name: 'opal-laptop', roles: ['operator'] });
      expect(view.userId).toBe(opal.id);
      const before = await identity.authenticate(key, {});
      expect(before).toMatchObject({ kind: 'api-key', id: view.id, roles: ['operator'], ceiling: ['operator'], userId: opal.id });
      expect(identity.rbac.can(before, 'tool.desktop.write_file:write')).toBe(true);

      await identity.users.setRoles(admin, opal.id, ['viewer']);
      expect(await latest({ action: 'user.roles' })).toMatchObject({ principal: admin.id, decision: 'allowed', args: { from: ['operator'], to: ['viewer'] } });
      const demoted = await identity.authenticate(key, {});
      expect(demoted.ceiling).toEqual(['viewer']);
      expect(identity.rbac.can(demoted, 'tool.desktop.write_file:write')).toBe(false);
      expect(identity.rbac.can(demoted, 'tool.desktop.run_command:execute')).toBe(false);
      expect(identity.rbac.can(demoted, 'tool.desktop.read_file:read')).toBe(true);

      await identity.users.setRoles(admin, opal.id, []);
      const stripped = await identity.authenticate(key, {});
      expect(identity.rbac.can(stripped, 'tool.desktop.read_file:read')).toBe(false);

      await identity.users.setRoles(admin, opal.id, ['operator']);
      expect(identity.rbac.can(await identity.authenticate(key, {}), 'tool.desktop.write_file:write')).toBe(true);
      opalP = (await signIn('opal')).principal;
    });

    it('refuses a key after it expires', async () => {
      const { key, view } = await identity.apiKeys.create(cliPrincipal(), { name: 'short-lived', roles: ['viewer'], expiresInSeconds: 60 });
      expect(view.expiresAt).toBe(new Date(t + 60_000).toISOString());
      expect((await identity.authenticate(key, {})).id).toBe(view.id);
      advance(59_000);
      expect((await identity.authenticate(key, {})).id).toBe(view.id);
      advance(1_000);
      expect(await refused(key)).toBe('key expired');
      expect(await latest({ action: 'auth.api-key' })).toMatchObject({ principal: view.id, principalKind: 'api-key', decision: 'denied', reason: 'key expired' });
    });

    it('refuses a revoked key', async () => {
      const { key, view } = await identity.apiKeys.create(cliPrincipal(), { name: 'to-revoke', roles: ['viewer'] });
      const revoked = await identity.apiKeys.revoke(admin, view.id, { requestId: 'rv' });
      expect(revoked.revokedAt).toBe(new Date(t).toISOString());
      expect(await latest({ action: 'api-key.revoke' })).toMatchObject({ principal: admin.id, resource: `api-key:${view.id}`, decision: 'allowed', requestId: 'rv' });
      expect(await refused(key)).toBe('key revoked');
    });

    it('enforces the IP allowlist', async () => {
      const { key } = await identity.apiKeys.create(cliPrincipal(), { name: 'office-only', roles: ['viewer'], ipAllowlist: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] });
      for (const ip of ['10.1.2.3', '::ffff:10.1.2.3', '2001:db8::1', '192.0.2.7']) expect((await identity.authenticate(key, { ip })).name, ip).toBe('office-only');
      for (const ip of ['11.0.0.1', '192.0.2.8', '2001:db9::1', 'localhost']) {
        expect(await refused(key, { ip })).toMatch(/not on the key's allowlist/);
      }
      expect(await refused(key, {})).toMatch(/unknown is not on the key's allowlist/);
      expect(await latest({ action: 'auth.api-key' })).toMatchObject({ decision: 'denied', reason: expect.stringContaining('allowlist') });
      const badList = await caught(identity.apiKeys.create(cliPrincipal(), { name: 'bad-list', roles: ['viewer'], ipAllowlist: ['10.0.0.0/33'] }));
      expect(badList).toBeInstanceOf(ValidationError);
      expect((badList as ValidationError).issues.map((issue) => issue.path)).toEqual(['ipAllowlist.0']);
      const badPattern = await caught(identity.apiKeys.create(cliPrincipal(), { name: 'bad-pattern', permissions: ['tool.*'] }));
      expect((badPattern as ValidationError).issues.map((issue) => issue.path)).toEqual(['permissions.0']);
    });

    it('lets an operator create keys within their own grants only', async () => {
      const narrow = await identity.apiKeys.create(opalP, { name: 'opal-read', permissions: ['tool.desktop.read_file:read'] });
      expect(narrow.view.permissions).toEqual(['tool.desktop.read_file:read']);
      const narrowerPattern = await identity.apiKeys.create(opalP, { name: 'opal-desktop', permissions: ['tool.desktop.*:write', 'tool.*:execute'] });
      expect(narrowerPattern.view.permissions).toEqual(['tool.desktop.*:write', 'tool.*:execute']);
      const asViewer = await identity.apiKeys.create(opalP, { name: 'opal-viewer', roles: ['viewer'] });
      expect(asViewer.view.roles).toEqual(['viewer']);

      const escalate = await caught(identity.apiKeys.create(opalP, { name: 'opal-admin', roles: ['admin'] }));
      expect(escalate).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'api-key.create' })).toMatchObject({ principal: opal.id, resource: 'api-key:opal-admin', decision: 'denied', reason: expect.stringContaining('beyond own grants') });
      for (const permissions of [['users:read'], ['*:*'], ['tool.*:admin'], ['*:read'], ['tool*:read'], ['tool.*:*']]) {
        expect(await caught(identity.apiKeys.create(opalP, { name: 'opal-sneaky', permissions }))).toBeInstanceOf(ForbiddenError);
      }
      const forOtto = await caught(identity.apiKeys.create(opalP, { name: 'for-otto', roles: ['viewer'], userId: otto.id }));
      expect(forOtto).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'api-key.create' })).toMatchObject({ principal: opal.id, decision: 'denied', reason: 'lacks permission api-keys:create' });
      const stored = await store.db.selectFrom('api_keys').select('name').where('name', 'in', ['opal-admin', 'opal-sneaky', 'for-otto']).execute();
      expect(stored).toEqual([]);

      expect(await caught(identity.apiKeys.create(aliceP, { name: 'alice-key', roles: ['viewer'] }))).toBeInstanceOf(ForbiddenError);
      expect(await caught(identity.apiKeys.create(opalP, { name: 'empty' }))).toBeInstanceOf(ValidationError);
      expect(await caught(identity.apiKeys.create(admin, { name: 'ghost-role', roles: ['superuser'] }))).toBeInstanceOf(ValidationError);
    });

    it('shows an operator only their own keys, and an admin all of them', async () => {
      const ottoKey = await identity.apiKeys.create(ottoP, { name: 'otto-key', roles: ['viewer'] });
      const opalKeys = await identity.apiKeys.list(opalP);
      expect(opalKeys.length).toBeGreaterThan(0);
      expect(opalKeys.every((key) => key.userId === opal.id)).toBe(true);
      expect(opalKeys.map((key) => key.id)).not.toContain(ottoKey.view.id);
      expect((await identity.apiKeys.list(ottoP)).map((key) => key.id)).toEqual([ottoKey.view.id]);
      const all = await identity.apiKeys.list(admin);
      expect(all.map((key) => key.id)).toEqual(expect.arrayContaining([ottoKey.view.id, ...opalKeys.map((key) => key.id)]));
      expect(all.some((key) => key.userId === null)).toBe(true);
      for (const key of all) expect(Object.keys(key)).not.toContain('secret_hash');

      expect(await caught(identity.apiKeys.list(aliceP))).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'api-key.list' })).toMatchObject({ principal: aliceP.id, decision: 'denied' });
    });

    it('lets only the owner or an admin revoke a key', async () => {
      const { key, view } = await identity.apiKeys.create(ottoP, { name: 'otto-second', roles: ['viewer'] });
      const byViewer = await caught(identity.apiKeys.revoke(aliceP, view.id));
      expect(byViewer).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'api-key.revoke' })).toMatchObject({ principal: aliceP.id, resource: `api-key:${view.id}`, decision: 'denied', reason: 'lacks permission api-keys:revoke' });
      expect(await caught(identity.apiKeys.revoke(opalP, view.id))).toBeInstanceOf(ForbiddenError);
      expect((await identity.authenticate(key, {})).id).toBe(view.id);

      await identity.apiKeys.revoke(ottoP, view.id);
      expect(await latest({ action: 'api-key.revoke' })).toMatchObject({ principal: otto.id, decision: 'allowed' });
      expect(await refused(key)).toBe('key revoked');
      // Probing ids does not tell a viewer which exist.
      expect(await caught(identity.apiKeys.revoke(aliceP, 'key_doesnotexist0000'))).toBeInstanceOf(ForbiddenError);
    });
  });

  describe('who may see and change users', () => {
    let alice: Principal;
    let bob: { id: string };

    beforeAll(async () => {
      alice = (await signIn('alice')).principal;
      bob = await newUser('bob', ['viewer']);
    });

    it('lets a user read themselves but not anyone else', async () => {
      const self = await identity.users.get(alice, alice.id);
      expect(self).toMatchObject({ id: alice.id, username: 'alice', roles: ['viewer'], disabled: false, mfaEnabled: false });
      expect(Object.keys(self).sort()).toEqual(['createdAt', 'disabled', 'id', 'lastLoginAt', 'locked', 'mfaEnabled', 'roles', 'username']);
      const other = await caught(identity.users.get(alice, bob.id));
      expect(other).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'user.read' })).toMatchObject({ principal: alice.id, resource: `user:${bob.id}`, decision: 'denied', reason: 'lacks permission users:read' });
      expect((await identity.users.get(admin, bob.id)).username).toBe('bob');
    });

    it('lets only an admin list users', async () => {
      expect(await caught(identity.users.list(alice))).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'user.list' })).toMatchObject({ principal: alice.id, decision: 'denied' });
      const users = await identity.users.list(admin);
      expect(users.map((user) => user.username)).toEqual(expect.arrayContaining(['admin', 'alice', 'bob']));
      for (const user of users) expect(user).not.toHaveProperty('password_hash');
    });

    it('refuses a viewer every change to others and to their own roles', async () => {
      expect(await caught(identity.users.setRoles(alice, alice.id, ['admin']))).toBeInstanceOf(ForbiddenError);
      expect(await caught(identity.users.changePassword(alice, bob.id, { newPassword: NEW_PASSWORD }))).toBeInstanceOf(ForbiddenError);
      expect(await caught(identity.users.updateStatus(alice, bob.id, { disabled: true }))).toBeInstanceOf(ForbiddenError);
      expect(await caught(identity.users.create(alice, { username: 'eve', password: PASSWORD, roles: ['admin'] }))).toBeInstanceOf(ForbiddenError);
      expect(await latest({ action: 'user.create' })).toMatchObject({ principal: alice.id, decision: 'denied', reason: 'lacks permission users:create' });
      expect(await caught(identity.rotateSigningKey(alice))).toBeInstanceOf(ForbiddenError);
      expect((await identity.users.get(admin, alice.id)).roles).toEqual(['viewer']);
      await signIn('bob');
    });
  });

  describe('the local operator', () => {
    it('does not exist unless configured', () => {
      expect(caughtSync(() => identity.localOperator())).toBeInstanceOf(UnauthenticatedError);
    });

    it('has exactly the configured roles when configured', async () => {
      const configured = configFieldsSchema.parse({ auth: { localOperator: { enabled: true, name: 'desk', roles: ['operator'] } } }).auth;
      const local = await makeIdentity({ localOperator: configured.localOperator });
      const operator = local.localOperator();
      expect(operator).toEqual({ kind: 'local-operator', id: 'local:desk', name: 'desk', roles: ['operator'], permissions: [] });
      expect(local.rbac.can(operator, 'tool.desktop.write_file:write')).toBe(true);
      expect(local.rbac.can(operator, 'users:read')).toBe(false);
      expect(local.rbac.can(operator, 'tool.bashgod.x:admin')).toBe(false);
    });
  });

  it('leaves an audit log that verifies', async () => {
    await audit.flush();
    const result = await verifyAuditLog(store, auditKey);
    expect(result).toMatchObject({ ok: true });
    expect(result.checked).toBeGreaterThan(100);
    const denied = await audit.query({ decision: 'denied', limit: 1000 });
    expect(denied.length).toBeGreaterThan(30);
  });
});
