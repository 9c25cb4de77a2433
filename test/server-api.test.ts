/**
 * Every route of the real `ironcode serve`, over real HTTP, on SQLite and on
 * PostgreSQL: the happy paths, and the refusals that prove each guard is wired.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, login, startServer } from './support/server.js';
import type { Dialect, RunningServer } from './support/server.js';

const DIALECTS: Dialect[] = ['sqlite', 'postgres'];
const API_KEY = /^ironcode_[0-9A-Za-z]{56}$/;
const USER_ID = /^usr_[0-9A-Za-z]+$/;
const CAROL_PASSWORD = 'lantern orchard 1987';
const DAVE_PASSWORD = 'granite meadow 2024';
// Logins and refreshes are many here; the per-IP auth limit (30 a minute) is tested elsewhere.
const GENEROUS_LIMITS = { IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP: '10000', IRONCODE_SERVER_RATE_LIMIT_PER_IP: '100000' };

/** Every route the server registers; /openapi.json must list exactly these. */
const ROUTES = [
  'POST /auth/login',
  'POST /auth/refresh',
  'POST /auth/logout',
  'GET /auth/me',
  'POST /auth/password',
  'POST /auth/mfa/enrol',
  'POST /auth/mfa/verify',
  'POST /auth/mfa/disable',
  'GET /.well-known/jwks.json',
  'POST /auth/signing-keys/rotate',
  'GET /users',
  'POST /users',
  'GET /users/{id}',
  'PATCH /users/{id}',
  'PUT /users/{id}/roles',
  'POST /users/{id}/password',
  'GET /api-keys',
  'POST /api-keys',
  'DELETE /api-keys/{id}',
  'GET /roles',
  'GET /permissions',
  'GET /audit/events',
  'GET /audit/verify',
  'GET /approvals',
  'GET /approvals/{id}',
  'POST /approvals/{id}/grant',
  'POST /approvals/{id}/deny',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
];

interface AuditEvent {
  seq: number;
  time: string;
  principal: string;
  action: string;
  decision: string;
  requestId: string | null;
  ip: string | null;
}

function expectSecurityHeaders(headers: Headers): void {
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('content-security-policy')).toMatch(/(^|;)\s*default-src 'none'/);
  expect(headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  expect(headers.get('x-frame-options')).toBe('DENY');
  expect(headers.get('cache-control')).toBe('no-store');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
  expect(headers.get('x-request-id')).toMatch(/^req_[0-9A-Za-z]+$/);
  expect(headers.get('x-powered-by')).toBeNull();
}

function expectProblem(response: { status: number; headers: Headers; body: any }, status: number, code: string): void { // eslint-disable-line @typescript-eslint/no-explicit-any -- problem bodies are arbitrary JSON
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status, code, type: expect.stringMatching(/^urn:ironcode:problem:/), title: expect.any(String), detail: expect.any(String) });
  expect(response.body.requestId).toBe(response.headers.get('x-request-id'));
}

/** The audit events matching a query string, newest first, every page. */
async function auditEvents(server: RunningServer, token: string, query = ''): Promise<AuditEvent[]> {
  const response = await call(server, 'GET', `/audit/events?limit=1000${query === '' ? '' : `&${query}`}`, { token });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.events as AuditEvent[];
}

async function eventOfRequest(server: RunningServer, token: string, requestId: string | null): Promise<AuditEvent | undefined> {
  expect(requestId).toMatch(/^req_/);
  return (await auditEvents(server, token)).find((event) => event.requestId === requestId);
}

describe.each(DIALECTS)('the HTTP API on %s', (dialect) => {
  let server: RunningServer;
  let admin: string;
  let adminId: string;
  const carol = { id: '', password: CAROL_PASSWORD };
  const dave = { id: '', password: DAVE_PASSWORD };

  beforeAll(async () => {
    server = await startServer({ dialect, env: GENEROUS_LIMITS });
    admin = (await login(server, 'admin', server.admin.password)).access_token;
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it('logs in with the generated admin password; /auth/me names the user', async () => {
    const response = await call(server, 'POST', '/auth/login', { body: { username: 'admin', password: server.admin.password } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, refresh_token: expect.stringMatching(/^ironcode_rt_/) });
    expectSecurityHeaders(response.headers);

    const me = await call(server, 'GET', '/auth/me', { token: response.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({ kind: 'user', name: 'admin', roles: ['admin'] });
    expect(me.body.principal.id).toMatch(USER_ID);
    expect(me.body.user).toMatchObject({ username: 'admin', roles: ['admin'], disabled: false, mfaEnabled: false });
    expect(Date.parse(me.body.user.lastLoginAt)).toBeGreaterThan(Date.now() - 60_000);
    adminId = me.body.principal.id;

    const wrong = await call(server, 'POST', '/auth/login', { body: { username: 'admin', password: 'not the password at all' } });
    expectProblem(wrong, 401, 'IRON_UNAUTHENTICATED');
    const anonymous = await call(server, 'GET', '/auth/me');
    expectProblem(anonymous, 401, 'IRON_UNAUTHENTICATED');
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('/auth/refresh rotates the refresh token; presenting a used one ends the session', async () => {
    const first = await login(server, 'admin', server.admin.password);
    const second = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(second.body.access_token).not.toBe(first.access_token);
    // Same session, new token.
    expect(decodeJwt(second.body.access_token).sid).toBe(decodeJwt(first.access_token).sid);
    expect((await call(server, 'GET', '/auth/me', { token: second.body.access_token })).status).toBe(200);

    const third = await call(server, 'POST', '/auth/refresh', { body: { refresh_token: second.body.refresh_token } });
    expect(third.status).toBe(200);

    // The first refresh token again: someone holds a copy, so the whole session ends.
    expectProblem(await call(server, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } }), 401, 'IRON_UNAUTHENTICATED');
    expect((await call(server, 'GET', '/auth/me', { token: third.body.access_token })).status).toBe(401);
    expect((await call(server, 'POST', '/auth/refresh', { body: { refresh_token: third.body.refresh_token } })).status).toBe(401);
    const reuse = (await auditEvents(server, admin, 'action=auth.refresh-reuse'))[0];
    expect(reuse).toMatchObject({ principal: adminId, decision: 'denied' });
  });

  it('/auth/logout answers 204 and the token is refused from then on', async () => {
    const session = await login(server, 'admin', server.admin.password);
    expect((await call(server, 'GET', '/auth/me', { token: session.access_token })).status).toBe(200);
    const logout = await call(server, 'POST', '/auth/logout', { token: session.access_token });
    expect(logout.status).toBe(204);
    expect(logout.body).toBeUndefined();
    expectProblem(await call(server, 'GET', '/auth/me', { token: session.access_token }), 401, 'IRON_UNAUTHENTICATED');
    expect((await call(server, 'POST', '/auth/refresh', { body: { refresh_token: session.refresh_token } })).status).toBe(401);
    // The admin's other sessions are untouched.
    expect((await call(server, 'GET', '/auth/me', { token: admin })).status).toBe(200);
  });

  it('/users: an admin creates, lists, reads, disables, enables and re-roles a user', async () => {
    const created = await call(server, 'POST', '/users', { token: admin, body: { username: 'carol', password: carol.password, roles: ['operator'] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ username: 'carol', roles: ['operator'], disabled: false, locked: false, mfaEnabled: false, lastLoginAt: null });
    expect(created.body).not.toHaveProperty('password_hash');
    carol.id = created.body.id;
    expect(carol.id).toMatch(USER_ID);
    expectProblem(await call(server, 'POST', '/users', { token: admin, body: { username: 'Carol', password: 'some other passphrase', roles: [] } }), 409, 'IRON_CONFLICT');
    const invalid = await call(server, 'POST', '/users', { token: admin, body: { username: 'eve', password: 'short', roles: ['wizard'] } });
    expectProblem(invalid, 400, 'IRON_VALIDATION');

    const list = await call(server, 'GET', '/users', { token: admin });
    expect(list.status).toBe(200);
    expect((list.body.users as { username: string }[]).map((user) => user.username)).toEqual(['admin', 'carol']);
    const read = await call(server, 'GET', `/users/${carol.id}`, { token: admin });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: carol.id, username: 'carol' });
    expectProblem(await call(server, 'GET', '/users/usr_doesnotexist', { token: admin }), 404, 'IRON_NOT_FOUND');

    const carolSession = await login(server, 'carol', carol.password);
    // An operator may read herself, not the list.
    expect((await call(server, 'GET', `/users/${carol.id}`, { token: carolSession.access_token })).status).toBe(200);
    expectProblem(await call(server, 'GET', '/users', { token: carolSession.access_token }), 403, 'IRON_FORBIDDEN');

    const disabled = await call(server, 'PATCH', `/users/${carol.id}`, { token: admin, body: { disabled: true } });
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabled).toBe(true);
    expectProblem(await call(server, 'POST', '/auth/login', { body: { username: 'carol', password: carol.password } }), 401, 'IRON_UNAUTHENTICATED');
    expect((await call(server, 'GET', '/auth/me', { token: carolSession.access_token })).status).toBe(401);
    expect((await call(server, 'POST', '/auth/refresh', { body: { refresh_token: carolSession.refresh_token } })).status).toBe(401);

    const enabled = await call(server, 'PATCH', `/users/${carol.id}`, { token: admin, body: { disabled: false } });
    expect(enabled.status).toBe(200);
    expect(enabled.body.disabled).toBe(false);
    const again = await login(server, 'carol', carol.password);

    const roles = await call(server, 'PUT', `/users/${carol.id}/roles`, { token: admin, body: { roles: ['viewer', 'ci'] } });
    expect(roles.status).toBe(200);
    expect(roles.body.roles).toEqual(['viewer', 'ci']);
    // Roles are read at every request: her current token carries the new ones at once.
    expect((await call(server, 'GET', '/auth/me', { token: again.access_token })).body.principal.roles).toEqual(['viewer', 'ci']);
    expectProblem(await call(server, 'PUT', `/users/${carol.id}/roles`, { token: admin, body: { roles: ['root'] } }), 400, 'IRON_VALIDATION');
    expect((await call(server, 'PUT', `/users/${carol.id}/roles`, { token: admin, body: { roles: ['operator'] } })).body.roles).toEqual(['operator']);

    // Nobody but an admin changes roles, and an admin cannot disable himself.
    expectProblem(await call(server, 'PUT', `/users/${carol.id}/roles`, { token: again.access_token, body: { roles: ['admin'] } }), 403, 'IRON_FORBIDDEN');
    expectProblem(await call(server, 'PATCH', `/users/${adminId}`, { token: admin, body: { disabled: true } }), 400, 'IRON_VALIDATION');

    const actions = (await auditEvents(server, admin, `principal=${adminId}&action=user.*`)).map((event) => event.action);
    expect(actions).toEqual(expect.arrayContaining(['user.create', 'user.update', 'user.roles']));
  });

  it('an admin resets a user’s password: her sessions end, only the new password works', async () => {
    const session = await login(server, 'carol', carol.password);
    const reset = await call(server, 'POST', `/users/${carol.id}/password`, { token: admin, body: { new_password: 'admin chosen phrase 77' } });
    expect(reset.status, JSON.stringify(reset.body)).toBe(204);
    expect((await call(server, 'GET', '/auth/me', { token: session.access_token })).status).toBe(401);
    expect((await call(server, 'POST', '/auth/login', { body: { username: 'carol', password: carol.password } })).status).toBe(401);
    await login(server, 'carol', 'admin chosen phrase 77');
    carol.password = 'admin chosen phrase 77';
  });

  it('POST /auth/password changes one’s own password and ends every session', async () => {
    const one = await login(server, 'carol', carol.password);
    const two = await login(server, 'carol', carol.password);
    const wrong = await call(server, 'POST', '/auth/password', { token: one.access_token, body: { current_password: 'not my password', new_password: 'fresh paint 2031 blue' } });
    expectProblem(wrong, 400, 'IRON_VALIDATION');
    const weak = await call(server, 'POST', '/auth/password', { token: one.access_token, body: { current_password: carol.password, new_password: 'short' } });
    expectProblem(weak, 400, 'IRON_VALIDATION');
    expect((await call(server, 'GET', '/auth/me', { token: one.access_token })).status).toBe(200);

    const changed = await call(server, 'POST', '/auth/password', { token: one.access_token, body: { current_password: carol.password, new_password: 'fresh paint 2031 blue' } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(204);
    for (const session of [one, two]) {
      expect((await call(server, 'GET', '/auth/me', { token: session.access_token })).status).toBe(401);
      expect((await call(server, 'POST', '/auth/refresh', { body: { refresh_token: session.refresh_token } })).status).toBe(401);
    }
    expect((await call(server, 'POST', '/auth/login', { body: { username: 'carol', password: carol.password } })).status).toBe(401);
    carol.password = 'fresh paint 2031 blue';
    await login(server, 'carol', carol.password);
  });

  it('MFA: enrol, verify with a TOTP code, then logins need a code or a one-time recovery code; disable with the password', async () => {
    const created = await call(server, 'POST', '/users', { token: admin, body: { username: 'dave', password: dave.password, roles: ['operator'] } });
    expect(created.status).toBe(201);
    dave.id = created.body.id;
    const session = await login(server, 'dave', dave.password);

    const enrol = await call(server, 'POST', '/auth/mfa/enrol', { token: session.access_token });
    expect(enrol.status, JSON.stringify(enrol.body)).toBe(200);
    const secret = enrol.body.secret as string;
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(enrol.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\//);
    expect(new URL(enrol.body.otpauth_uri).searchParams.get('secret')).toBe(secret);
    // Pending until verified: a login still needs no code.
    await login(server, 'dave', dave.password);

    expectProblem(await call(server, 'POST', '/auth/mfa/verify', { token: session.access_token, body: { code: '000000' === (await generate({ secret })) ? '111111' : '000000' } }), 400, 'IRON_VALIDATION');
    const verified = await call(server, 'POST', '/auth/mfa/verify', { token: session.access_token, body: { code: await generate({ secret }) } });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    const recovery = verified.body.recovery_codes as string[];
    expect(recovery).toHaveLength(10);
    expect(new Set(recovery).size).toBe(10);
    expect((await call(server, 'GET', '/auth/me', { token: session.access_token })).body.user.mfaEnabled).toBe(true);

    const withoutCode = await call(server, 'POST', '/auth/login', { body: { username: 'dave', password: dave.password } });
    expectProblem(withoutCode, 401, 'IRON_UNAUTHENTICATED');
    expect(withoutCode.body.mfa).toBe('required');

    // The verify spent the current time step; the next step's code is fresh (and within the tolerance).
    const nextStep = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    await login(server, 'dave', dave.password, nextStep);
    // The same code again is a replay.
    expect((await call(server, 'POST', '/auth/login', { body: { username: 'dave', password: dave.password, totp: nextStep } })).status).toBe(401);

    await login(server, 'dave', dave.password, recovery[0]);
    const reused = await call(server, 'POST', '/auth/login', { body: { username: 'dave', password: dave.password, totp: recovery[0] } });
    expectProblem(reused, 401, 'IRON_UNAUTHENTICATED');
    await login(server, 'dave', dave.password, (recovery[1] ?? '').toUpperCase());

    const factors = (await auditEvents(server, admin, `principal=${dave.id}&action=auth.login&decision=allowed`)).map((event) => (event as unknown as { args: { factor: string } }).args.factor);
    expect(factors.slice(0, 3)).toEqual(['password+recovery-code', 'password+recovery-code', 'password+totp']);

    expectProblem(await call(server, 'POST', '/auth/mfa/disable', { token: session.access_token, body: { password: 'not the password' } }), 400, 'IRON_VALIDATION');
    const disabled = await call(server, 'POST', '/auth/mfa/disable', { token: session.access_token, body: { password: dave.password } });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(204);
    await login(server, 'dave', dave.password);
    expect((await call(server, 'GET', '/auth/me', { token: session.access_token })).body.user.mfaEnabled).toBe(false);
  });

  it('/api-keys: an operator creates her own viewer key, it authenticates as kind api-key, she lists and revokes it', async () => {
    const operator = (await login(server, 'carol', carol.password)).access_token;
    const created = await call(server, 'POST', '/api-keys', { token: operator, body: { name: 'carol-laptop', roles: ['viewer'], expires_in: '1d' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(API_KEY);
    expect(created.body.api_key).toMatchObject({ name: 'carol-laptop', userId: carol.id, roles: ['viewer'], createdBy: carol.id, revokedAt: null });
    expect(Date.parse(created.body.api_key.expiresAt) - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
    const keyId = created.body.api_key.id as string;

    // A key can never outrank its creator.
    expectProblem(await call(server, 'POST', '/api-keys', { token: operator, body: { name: 'sneaky', roles: ['admin'] } }), 403, 'IRON_FORBIDDEN');

    const me = await call(server, 'GET', '/auth/me', { token: key });
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({ kind: 'api-key', id: keyId, name: 'carol-laptop', roles: ['viewer'] });
    expect(me.body.user).toBeUndefined();
    // A viewer key cannot create users, whatever its creator could.
    expectProblem(await call(server, 'POST', '/users', { token: key, body: { username: 'mallory', password: 'whatever it takes 9', roles: [] } }), 403, 'IRON_FORBIDDEN');

    const mine = await call(server, 'GET', '/api-keys', { token: operator });
    expect(mine.status).toBe(200);
    expect((mine.body.api_keys as { id: string; userId: string }[]).map((view) => view.id)).toEqual([keyId]);
    expect(JSON.stringify(mine.body)).not.toContain(key.slice(25));
    const everyone = await call(server, 'POST', '/api-keys', { token: admin, body: { name: 'admin-key', roles: ['viewer'] } });
    expect(everyone.status).toBe(201);
    const all = await call(server, 'GET', '/api-keys', { token: admin });
    expect((all.body.api_keys as { id: string }[]).map((view) => view.id)).toEqual(expect.arrayContaining([keyId, everyone.body.api_key.id]));
    // Carol cannot revoke the admin's key.
    expectProblem(await call(server, 'DELETE', `/api-keys/${everyone.body.api_key.id}`, { token: operator }), 403, 'IRON_FORBIDDEN');

    const revoked = await call(server, 'DELETE', `/api-keys/${keyId}`, { token: operator });
    expect(revoked.status).toBe(200);
    expect(Date.parse(revoked.body.revokedAt)).toBeGreaterThan(Date.now() - 60_000);
    expectProblem(await call(server, 'GET', '/auth/me', { token: key }), 401, 'IRON_UNAUTHENTICATED');
    expectProblem(await call(server, 'DELETE', '/api-keys/key_0000000000000000', { token: admin }), 404, 'IRON_NOT_FOUND');
  });

  it('/api-keys with service: true makes a key that acts for no user; only api-keys:create may', async () => {
    const created = await call(server, 'POST', '/api-keys', { token: admin, body: { name: 'ci-runner', roles: ['ci'], service: true } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.api_key).toMatchObject({ name: 'ci-runner', userId: null, roles: ['ci'] });
    const me = await call(server, 'GET', '/auth/me', { token: created.body.key as string });
    expect(me.body.principal).toMatchObject({ kind: 'service', name: 'ci-runner', roles: ['ci'] });
    const operator = (await login(server, 'carol', carol.password)).access_token;
    expectProblem(await call(server, 'POST', '/api-keys', { token: operator, body: { name: 'sneaky-service', roles: ['viewer'], service: true } }), 403, 'IRON_FORBIDDEN');
    expectProblem(await call(server, 'POST', '/api-keys', { token: admin, body: { name: 'both', roles: ['viewer'], service: true, user_id: carol.id } }), 400, 'IRON_VALIDATION');
  });

  it('/roles and /permissions describe the built-in roles and every permission', async () => {
    const roles = await call(server, 'GET', '/roles', { token: admin });
    expect(roles.status).toBe(200);
    const byName = new Map((roles.body.roles as { name: string; inherits: string[]; effective: string[]; description: string }[]).map((role) => [role.name, role]));
    expect([...byName.keys()].sort()).toEqual(['admin', 'ci', 'monitoring', 'operator', 'viewer']);
    expect(byName.get('operator')?.inherits).toEqual(['viewer']);
    expect(byName.get('operator')?.effective).toEqual(expect.arrayContaining(['api-keys:own', 'self:read']));
    expect(byName.get('monitoring')?.effective).toEqual(expect.arrayContaining(['metrics:read', 'audit:read']));

    const permissions = await call(server, 'GET', '/permissions', { token: admin });
    expect(permissions.status).toBe(200);
    const names = (permissions.body.permissions as { name: string; description: string }[]).map((permission) => permission.name);
    expect(names).toEqual(expect.arrayContaining(['audit:read', 'audit:verify', 'metrics:read', 'users:create', 'signing-keys:rotate']));
    for (const permission of permissions.body.permissions as { description: string }[]) expect(permission.description.length).toBeGreaterThan(5);
  });

  it('/audit/events filters by principal, action (exact and prefix), decision and time, and pages with before=', async () => {
    const all = await auditEvents(server, admin);
    expect(all.length).toBeGreaterThan(40);
    expect(all.map((event) => event.seq)).toEqual(all.map((_, i) => all.length - i));

    const byCarol = await auditEvents(server, admin, `principal=${carol.id}`);
    expect(byCarol.length).toBeGreaterThan(3);
    for (const event of byCarol) expect(event.principal).toBe(carol.id);
    expect(byCarol).toEqual(all.filter((event) => event.principal === carol.id));

    const auth = await auditEvents(server, admin, 'action=auth.*');
    expect(auth).toEqual(all.filter((event) => event.action.startsWith('auth.')));
    expect(new Set(auth.map((event) => event.action))).toEqual(new Set(['auth.login', 'auth.logout', 'auth.refresh', 'auth.refresh-reuse', 'auth.token', 'auth.mfa.enrol', 'auth.mfa.enable', 'auth.mfa.disable', 'auth.api-key']));
    // Newest first: the viewer key's refused attempt, dave, carol, the bootstrapped admin.
    const exact = await auditEvents(server, admin, 'action=user.create');
    expect(exact.map((event) => `${event.action} ${event.decision}`)).toEqual(['user.create denied', 'user.create allowed', 'user.create allowed', 'user.create allowed']);
    expect(exact.at(-1)?.principal).toBe('system:bootstrap');
    // A prefix is a prefix, not a LIKE pattern.
    expect(await auditEvents(server, admin, 'action=auth_*')).toEqual([]);

    const denied = await auditEvents(server, admin, 'decision=denied');
    expect(denied.length).toBeGreaterThan(5);
    expect(denied).toEqual(all.filter((event) => event.decision === 'denied'));
    const combined = await auditEvents(server, admin, `principal=${carol.id}&action=auth.*&decision=allowed`);
    expect(combined).toEqual(all.filter((event) => event.principal === carol.id && event.action.startsWith('auth.') && event.decision === 'allowed'));

    const middle = all[Math.floor(all.length / 2)]!;
    const since = await auditEvents(server, admin, `since=${encodeURIComponent(middle.time)}`);
    expect(since).toEqual(all.filter((event) => Date.parse(event.time) >= Date.parse(middle.time)));
    expect(since.map((event) => event.seq)).toContain(middle.seq);
    const until = await auditEvents(server, admin, `until=${encodeURIComponent(middle.time)}`);
    expect(until).toEqual(all.filter((event) => Date.parse(event.time) < Date.parse(middle.time)));
    expect(until.map((event) => event.seq)).not.toContain(middle.seq);
    expect(since.length + until.length).toBe(all.length);
    expectProblem(await call(server, 'GET', '/audit/events?since=yesterday-ish', { token: admin }), 400, 'IRON_VALIDATION');
    expectProblem(await call(server, 'GET', '/audit/events?decision=maybe', { token: admin }), 400, 'IRON_VALIDATION');

    // Keyset paging: limit + next, then before=next, until next is null.
    const paged: AuditEvent[] = [];
    let before: number | null | undefined;
    for (let page = 0; page < 100; page++) {
      const response = await call(server, 'GET', `/audit/events?limit=7${before === undefined ? '' : `&before=${before}`}`, { token: admin });
      expect(response.status).toBe(200);
      const events = response.body.events as AuditEvent[];
      paged.push(...events);
      if (events.length === 7) expect(response.body.next).toBe(events[6]?.seq);
      else expect(response.body.next).toBeNull();
      before = response.body.next as number | null;
      if (before === null) break;
    }
    // The pages' own reads added events after `all` was taken; everything from `all` is there once, in order.
    expect(paged.filter((event) => event.seq <= all[0]!.seq)).toEqual(all);

    // Reading the audit log takes audit:read.
    const operator = (await login(server, 'carol', carol.password)).access_token;
    expectProblem(await call(server, 'GET', '/audit/events', { token: operator }), 403, 'IRON_FORBIDDEN');
    const refusal = (await auditEvents(server, admin, `principal=${carol.id}&action=http.authorize`))[0];
    expect(refusal).toMatchObject({ decision: 'denied' });
  });

  it('/audit/verify reports the intact chain', async () => {
    const verify = await call(server, 'GET', '/audit/verify', { token: admin });
    expect(verify.status).toBe(200);
    expect(verify.body.ok).toBe(true);
    expect(verify.body.checked).toBe(verify.body.lastSeq);
    expect(verify.body.lastSeq).toBeGreaterThan(40);
    const operator = (await login(server, 'carol', carol.password)).access_token;
    expectProblem(await call(server, 'GET', '/audit/verify', { token: operator }), 403, 'IRON_FORBIDDEN');
  });

  it('/.well-known/jwks.json publishes ES256 public keys that verify the access tokens', async () => {
    const jwks = await call(server, 'GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    const keys = jwks.body.keys as Record<string, unknown>[];
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
      // Public halves only.
      expect(key).not.toHaveProperty('d');
    }
    const token = (await login(server, 'admin', server.admin.password)).access_token;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: keys[0]?.kid });
    const remote = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)), { issuer: 'ironcode', audience: 'ironcode', algorithms: ['ES256'] });
    expect(remote.payload).toMatchObject({ sub: adminId, sid: expect.stringMatching(/^ses_/), jti: expect.any(String) });
    expect(remote.payload.exp! - remote.payload.iat!).toBe(900);
    // A token signed by anyone else is refused.
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.alloc(64, 1).toString('base64url')}`;
    expectProblem(await call(server, 'GET', '/auth/me', { token: forged }), 401, 'IRON_UNAUTHENTICATED');
  });

  it('POST /auth/signing-keys/rotate: old tokens stay valid, new ones carry the new kid, the JWKS has both', async () => {
    const before = await login(server, 'admin', server.admin.password);
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const operator = (await login(server, 'carol', carol.password)).access_token;
    expectProblem(await call(server, 'POST', '/auth/signing-keys/rotate', { token: operator }), 403, 'IRON_FORBIDDEN');

    const rotated = await call(server, 'POST', '/auth/signing-keys/rotate', { token: admin });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body.retired).toContain(oldKid);
    expect(rotated.body.active).not.toBe(oldKid);

    expect((await call(server, 'GET', '/auth/me', { token: before.access_token })).status).toBe(200);
    const after = await login(server, 'admin', server.admin.password);
    expect(decodeProtectedHeader(after.access_token).kid).toBe(rotated.body.active);
    const jwks = (await call(server, 'GET', '/.well-known/jwks.json')).body as JSONWebKeySet;
    expect(jwks.keys.map((key) => key.kid)).toEqual(expect.arrayContaining([oldKid, rotated.body.active]));
    const set = createLocalJWKSet(jwks);
    for (const token of [before.access_token, after.access_token]) {
      expect((await jwtVerify(token, set, { issuer: 'ironcode', audience: 'ironcode' })).payload.sub).toBe(adminId);
    }
    expect((await auditEvents(server, admin, 'action=signing-key.rotate'))[0]).toMatchObject({ principal: adminId, decision: 'allowed' });
  });

  it('/healthz and /readyz answer without credentials; /readyz names the store', async () => {
    const health = await call(server, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    expectSecurityHeaders(health.headers);
    const ready = await call(server, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', store: dialect });
  });

  it('/metrics needs metrics:read: 401 without credentials, 403 for an operator, 200 for an admin or a monitoring key', async () => {
    const anonymous = await call(server, 'GET', '/metrics');
    expectProblem(anonymous, 401, 'IRON_UNAUTHENTICATED');
    const operator = (await login(server, 'carol', carol.password)).access_token;
    expectProblem(await call(server, 'GET', '/metrics', { token: operator }), 403, 'IRON_FORBIDDEN');

    await call(server, 'GET', `/users/${carol.id}`, { token: admin });
    expect((await call(server, 'GET', '/not-a-route')).status).toBe(404);
    const metrics = await call(server, 'GET', '/metrics', { token: admin });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expectSecurityHeaders(metrics.headers);
    const text = metrics.body as string;
    expect(text).toMatch(/^ironcode_http_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^ironcode_http_requests_total\{method="POST",route="\/auth\/login",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^ironcode_http_requests_total\{method="GET",route="\/metrics",status="401"\} [1-9]\d*$/m);
    // Labels carry the route pattern, never an id: one series per route, not per user.
    expect(text).toMatch(/^ironcode_http_requests_total\{method="GET",route="\/users\/:id",status="200"\} [1-9]\d*$/m);
    expect(text).not.toMatch(/route="[^"]*usr_/);
    expect(text).toMatch(/^ironcode_http_requests_total\{method="GET",route="unmatched",status="404"\} /m);
    expect(text).toMatch(/^ironcode_audit_write_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^ironcode_audit_write_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^ironcode_process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^# TYPE ironcode_http_requests_total counter$/m);

    const monitoring = await call(server, 'POST', '/api-keys', { token: admin, body: { name: 'prometheus', roles: ['monitoring'] } });
    expect(monitoring.status).toBe(201);
    const scraped = await call(server, 'GET', '/metrics', { token: monitoring.body.key });
    expect(scraped.status).toBe(200);
    expect(scraped.body).toMatch(/^ironcode_http_requests_total\{/m);
  });

  it('/openapi.json is an OpenAPI 3.1 document listing every route', async () => {
    const response = await call(server, 'GET', '/openapi.json');
    expect(response.status).toBe(200);
    const doc = response.body as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, any>>; components: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- a JSON document
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'ironcode', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const listed = Object.entries(doc.paths).flatMap(([route, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${route}`));
    expect(listed.sort()).toEqual([...ROUTES].sort());

    const operationIds = new Set<string>();
    for (const [route, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(typeof operation.summary, `${method} ${route}`).toBe('string');
        expect(operation.responses['4XX']).toBeDefined();
        expect(Object.keys(operation.responses).some((status) => /^2\d\d$/.test(status))).toBe(true);
        operationIds.add(operation.operationId);
        for (const name of route.match(/\{(\w+)\}/g) ?? []) {
          expect(operation.parameters.map((parameter: { name: string; in: string }) => `${parameter.in}:${parameter.name}`)).toContain(`path:${name.slice(1, -1)}`);
        }
      }
    }
    expect(operationIds.size).toBe(ROUTES.length);
    expect(doc.paths['/auth/login']?.post.security).toEqual([]);
    expect(doc.paths['/users']?.post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/users']?.post.requestBody.content['application/json'].schema.properties).toHaveProperty('username');
    expect(doc.paths['/audit/events']?.get.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(
      expect.arrayContaining(['principal', 'action', 'decision', 'since', 'until', 'before', 'limit']),
    );
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'status', 'code']));
  });

  it('sends the security headers, no CORS headers by default, and problem+json for an unknown route', async () => {
    const notFound = await call(server, 'GET', '/no/such/route?x=1', { headers: { origin: 'https://app.example' } });
    expectProblem(notFound, 404, 'IRON_NOT_FOUND');
    expect(notFound.body).toMatchObject({ type: 'urn:ironcode:problem:notFound', title: 'Not found', detail: 'no route GET /no/such/route', instance: '/no/such/route?x=1' });
    expectSecurityHeaders(notFound.headers);
    expect(notFound.headers.get('access-control-allow-origin')).toBeNull();
    expectProblem(await call(server, 'DELETE', '/users', { token: admin }), 404, 'IRON_NOT_FOUND');

    const withOrigin = await call(server, 'GET', '/healthz', { headers: { origin: 'https://app.example' } });
    expect(withOrigin.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await call(server, 'OPTIONS', '/users', { headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();

    const unauthorized = await call(server, 'GET', '/users');
    expectSecurityHeaders(unauthorized.headers);
    const malformed = await call(server, 'POST', '/auth/login', { rawBody: '{"username":', headers: { 'content-type': 'application/json' } });
    expectProblem(malformed, 400, 'IRON_VALIDATION');
    expectSecurityHeaders(malformed.headers);
  });

  it('ignores X-Forwarded-For by default: the audit log records the socket address', async () => {
    const spoofed = await call(server, 'POST', '/auth/login', { body: { username: 'ghost', password: 'irrelevant' }, headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(spoofed.status).toBe(401);
    const event = await eventOfRequest(server, admin, spoofed.headers.get('x-request-id'));
    expect(event).toMatchObject({ action: 'auth.login', decision: 'denied', ip: '127.0.0.1' });
  });
});

describe('CORS and trusted proxies when configured', () => {
  let server: RunningServer;
  let admin: string;

  beforeAll(async () => {
    server = await startServer({ dialect: 'sqlite', env: { ...GENEROUS_LIMITS, IRONCODE_SERVER_CORS_ORIGINS: 'https://app.example', IRONCODE_SERVER_TRUSTED_PROXIES: '127.0.0.1' } });
    admin = (await login(server, 'admin', server.admin.password)).access_token;
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it('allows a preflight from the configured origin and not from another', async () => {
    const request = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' };
    const allowed = await call(server, 'OPTIONS', '/users', { headers: { origin: 'https://app.example', ...request } });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(allowed.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/\bauthorization\b/);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(allowed.headers.get('vary')).toMatch(/Origin/i);

    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example']) {
      const refused = await call(server, 'OPTIONS', '/users', { headers: { origin, ...request } });
      expect(refused.headers.get('access-control-allow-origin'), origin).toBeNull();
    }

    const simple = await call(server, 'GET', '/healthz', { headers: { origin: 'https://app.example' } });
    expect(simple.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(simple.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
    const other = await call(server, 'GET', '/healthz', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('believes X-Forwarded-For from a trusted proxy, taking the first address the proxy did not add', async () => {
    const forwarded = await call(server, 'POST', '/auth/login', { body: { username: 'ghost', password: 'irrelevant' }, headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(forwarded.status).toBe(401);
    const events = (await call(server, 'GET', '/audit/events?action=auth.login&decision=denied', { token: admin })).body.events as AuditEvent[];
    expect(events.find((event) => event.requestId === forwarded.headers.get('x-request-id'))?.ip).toBe('203.0.113.7');

    // A client-supplied entry left of the proxy's is not believed: the proxy at 127.0.0.1 is trusted, 203.0.113.8 is not.
    const chained = await call(server, 'POST', '/auth/login', { body: { username: 'ghost', password: 'irrelevant' }, headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.8' } });
    const again = (await call(server, 'GET', '/audit/events?action=auth.login&decision=denied', { token: admin })).body.events as AuditEvent[];
    expect(again.find((event) => event.requestId === chained.headers.get('x-request-id'))?.ip).toBe('203.0.113.8');
  });
});
