import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError, newId, randomToken } from '../core/index.js';
import type { UserRow } from '../store/index.js';
import { auditActor, authorizeAudited, parseJsonList } from './context.js';
import type { IdentityContext, RequestMeta } from './context.js';
import { checkPasswordUnderLockout } from './lockout.js';
import { hashPassword, passwordProblems } from './passwords.js';
import type { Principal } from './principal.js';
import { endAllSessions } from './sessions.js';

export const usernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{2,63}$/, 'must be 3–64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit');

/** What the API shows of a user: never the hash, the MFA secret or the failure counters. */
export interface UserView {
  id: string;
  username: string;
  roles: string[];
  createdAt: string;
  disabled: boolean;
  locked: boolean;
  mfaEnabled: boolean;
  lastLoginAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function userView(row: UserRow, now: number): UserView {
  return {
    id: row.id,
    username: row.username,
    roles: parseJsonList(row.roles),
    createdAt: new Date(row.created_at).toISOString(),
    disabled: row.disabled_at !== null,
    locked: row.locked_until !== null && row.locked_until > now,
    mfaEnabled: row.mfa_enabled_at !== null,
    lastLoginAt: iso(row.last_login_at),
  };
}

export function userPrincipal(row: UserRow, sessionId?: string): Principal {
  return {
    kind: 'user',
    id: row.id,
    name: row.username,
    roles: parseJsonList(row.roles),
    permissions: [],
    userId: row.id,
    ...(sessionId === undefined ? {} : { sessionId }),
  };
}

export function checkRoles(ctx: IdentityContext, roles: readonly string[]): void {
  const unknown = roles.filter((role) => !ctx.rbac.isRole(role));
  if (unknown.length > 0) {
    throw new ValidationError(`unknown role ${unknown.join(', ')}; known roles: ${[...ctx.rbac.roles.keys()].join(', ')}`, [
      { path: 'roles', message: `unknown role ${unknown.join(', ')}` },
    ]);
  }
}

export function checkPassword(ctx: IdentityContext, password: string, username: string, field = 'password'): void {
  const problems = passwordProblems(password, username, ctx.auth.passwordMinLength);
  if (problems.length > 0) throw new ValidationError(`${field} ${problems.join('; ')}`, problems.map((message) => ({ path: field, message })));
}

export async function findUserById(ctx: IdentityContext, id: string): Promise<UserRow | undefined> {
  return ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByName(ctx: IdentityContext, username: string): Promise<UserRow | undefined> {
  return ctx.db.selectFrom('users').selectAll().where('username', '=', username.trim().toLowerCase()).executeTakeFirst();
}

async function requireUser(ctx: IdentityContext, id: string): Promise<UserRow> {
  const row = await findUserById(ctx, id);
  if (row === undefined) throw new NotFoundError(`no user ${id}`);
  return row;
}

export interface CreateUserInput {
  username: string;
  password: string;
  roles: string[];
}

export async function createUser(ctx: IdentityContext, actor: Principal, input: CreateUserInput, meta: RequestMeta = {}): Promise<UserView> {
  const parsedName = usernameSchema.safeParse(input.username);
  await authorizeAudited(ctx, actor, 'users:create', { action: 'user.create', resource: `user:${input.username}` }, meta);
  if (!parsedName.success) throw new ValidationError(`username ${parsedName.error.issues[0]?.message ?? 'is invalid'}`, [{ path: 'username', message: parsedName.error.issues[0]?.message ?? 'invalid' }]);
  const username = parsedName.data;
  checkRoles(ctx, input.roles);
  checkPassword(ctx, input.password, username);
  const now = ctx.clock.now();
  const row: UserRow = {
    id: newId('usr'),
    username,
    password_hash: await hashPassword(input.password),
    roles: JSON.stringify([...new Set(input.roles)]),
    created_at: now,
    updated_at: now,
    disabled_at: null,
    password_changed_at: now,
    last_login_at: null,
    failed_logins: 0,
    failure_window_start: null,
    locked_until: null,
    mfa_secret: null,
    mfa_enabled_at: null,
    mfa_pending_secret: null,
    mfa_last_step: null,
  };
  try {
    await ctx.db.insertInto('users').values(row).execute();
  } catch (error) {
    if (await findUserByName(ctx, username)) throw new ConflictError(`a user named ${username} already exists`, { cause: error });
    throw error;
  }
  await ctx.audit.append({
    ...auditActor(actor),
    action: 'user.create',
    resource: `user:${row.id}`,
    decision: 'allowed',
    args: { username, roles: input.roles },
    requestId: meta.requestId,
    ip: meta.ip,
  });
  return userView(row, now);
}

export async function listUsers(ctx: IdentityContext, actor: Principal, meta: RequestMeta = {}): Promise<UserView[]> {
  await authorizeAudited(ctx, actor, 'users:read', { action: 'user.list', resource: 'user:*' }, meta);
  const rows = await ctx.db.selectFrom('users').selectAll().orderBy('username').execute();
  const now = ctx.clock.now();
  return rows.map((row) => userView(row, now));
}

/** A user may read themselves; reading anyone else takes users:read. */
export async function getUser(ctx: IdentityContext, actor: Principal, id: string, meta: RequestMeta = {}): Promise<UserView> {
  if (!(actor.kind === 'user' && actor.userId === id && ctx.rbac.can(actor, 'self:read'))) {
    await authorizeAudited(ctx, actor, 'users:read', { action: 'user.read', resource: `user:${id}` }, meta);
  }
  return userView(await requireUser(ctx, id), ctx.clock.now());
}

export async function setUserRoles(ctx: IdentityContext, actor: Principal, id: string, roles: string[], meta: RequestMeta = {}): Promise<UserView> {
  await authorizeAudited(ctx, actor, 'users:assign-roles', { action: 'user.roles', resource: `user:${id}` }, meta);
  checkRoles(ctx, roles);
  const before = await requireUser(ctx, id);
  const now = ctx.clock.now();
  await ctx.db.updateTable('users').set({ roles: JSON.stringify([...new Set(roles)]), updated_at: now }).where('id', '=', id).execute();
  await ctx.audit.append({
    ...auditActor(actor),
    action: 'user.roles',
    resource: `user:${id}`,
    decision: 'allowed',
    args: { from: parseJsonList(before.roles), to: roles },
    requestId: meta.requestId,
    ip: meta.ip,
  });
  return userView({ ...before, roles: JSON.stringify(roles), updated_at: now }, now);
}

export interface UserStatusChange {
  disabled?: boolean | undefined;
  /** Clears a lockout and the failure count. */
  unlock?: boolean | undefined;
}

export async function updateUserStatus(ctx: IdentityContext, actor: Principal, id: string, change: UserStatusChange, meta: RequestMeta = {}): Promise<UserView> {
  await authorizeAudited(ctx, actor, 'users:update', { action: 'user.update', resource: `user:${id}` }, meta);
  if (change.disabled === true && actor.userId === id) throw new ValidationError('you cannot disable your own account', [{ path: 'disabled', message: 'own account' }]);
  const before = await requireUser(ctx, id);
  const now = ctx.clock.now();
  const set = {
    updated_at: now,
    ...(change.disabled === undefined ? {} : { disabled_at: change.disabled ? (before.disabled_at ?? now) : null }),
    ...(change.unlock === true ? { locked_until: null, failed_logins: 0, failure_window_start: null } : {}),
  };
  await ctx.db.updateTable('users').set(set).where('id', '=', id).execute();
  if (change.disabled === true) await endAllSessions(ctx, id, 'user disabled');
  await ctx.audit.append({ ...auditActor(actor), action: 'user.update', resource: `user:${id}`, decision: 'allowed', args: change, requestId: meta.requestId, ip: meta.ip });
  return userView({ ...before, ...set }, now);
}

export interface PasswordChange {
  /** Required when users change their own password. */
  currentPassword?: string | undefined;
  newPassword: string;
}

/** Changing a password ends every session of the user: a stolen refresh token dies with the old password. */
export async function changePassword(ctx: IdentityContext, actor: Principal, id: string, change: PasswordChange, meta: RequestMeta = {}): Promise<void> {
  const self = actor.kind === 'user' && actor.userId === id;
  if (self) await authorizeAudited(ctx, actor, 'self:update', { action: 'user.password', resource: `user:${id}` }, meta);
  else await authorizeAudited(ctx, actor, 'users:update', { action: 'user.password', resource: `user:${id}` }, meta);
  const user = await requireUser(ctx, id);
  if (self) {
    if (change.currentPassword === undefined) {
      await ctx.audit.append({ ...auditActor(actor), action: 'user.password', resource: `user:${id}`, decision: 'denied', reason: 'current password missing', requestId: meta.requestId, ip: meta.ip });
      throw new ValidationError('changing your own password needs the current one', [{ path: 'currentPassword', message: 'required' }]);
    }
    // A wrong password is audited and counted towards the lockout by the check itself.
    if (!(await checkPasswordUnderLockout(ctx, user, change.currentPassword, meta, 'user.password'))) {
      throw new ValidationError('the current password is wrong', [{ path: 'currentPassword', message: 'does not match' }]);
    }
  }
  checkPassword(ctx, change.newPassword, user.username, 'newPassword');
  const now = ctx.clock.now();
  await ctx.db.updateTable('users').set({ password_hash: await hashPassword(change.newPassword), password_changed_at: now, updated_at: now }).where('id', '=', id).execute();
  await endAllSessions(ctx, id, 'password changed');
  await ctx.audit.append({ ...auditActor(actor), action: 'user.password', resource: `user:${id}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
}

export const INITIAL_ADMIN = 'admin';

/**
 * On an empty store, creates `admin` with a generated password and returns it (to be
 * shown once). Returns undefined when any user exists, including one created by a
 * process that raced this one.
 */
export async function bootstrapAdmin(ctx: IdentityContext, actor: Principal): Promise<{ username: string; password: string } | undefined> {
  const any = await ctx.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (any !== undefined) return undefined;
  let password = randomToken(24);
  // 24 random base62 characters pass the policy unless they happen to contain the username.
  while (passwordProblems(password, INITIAL_ADMIN, ctx.auth.passwordMinLength).length > 0) password = randomToken(24);
  try {
    await createUser(ctx, actor, { username: INITIAL_ADMIN, password, roles: ['admin'] });
  } catch (error) {
    if (error instanceof ConflictError) return undefined;
    throw error;
  }
  return { username: INITIAL_ADMIN, password };
}
