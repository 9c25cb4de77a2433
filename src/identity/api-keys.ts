import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ForbiddenError, NotFoundError, ValidationError, addressMatcher, isAddressOrCidr, randomToken } from '../core/index.js';
import type { ApiKeyRow } from '../store/index.js';
import { auditActor, authorizeAudited, parseJsonList } from './context.js';
import type { IdentityContext, RequestMeta } from './context.js';
import { isPermissionPattern, permissionMatches } from './permission.js';
import type { Principal } from './principal.js';
import { checkRoles } from './users.js';

/**
 * `ironcode_` + 16 characters of key id + 40 of secret, all base62: a fixed shape that
 * secret scanners can match (`ironcode_[0-9A-Za-z]{56}`). Only a SHA-256 of the secret
 * is stored; 40 base62 characters carry 238 bits, so no slow hash is needed.
 */
export const API_KEY_PREFIX = 'ironcode_';
const ID_LENGTH = 16;
const SECRET_LENGTH = 40;
export const API_KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${ID_LENGTH + SECRET_LENGTH}}$`);

/** last_used_at is written at most this often per key, so every request is not a write. */
const LAST_USED_GRANULARITY_MS = 60_000;

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  roles: z.array(z.string()).default([]),
  permissions: z.array(z.string().refine(isPermissionPattern, 'must be resource:action, * allowed as a wildcard')).default([]),
  /** Lifetime in seconds; omitted means no expiry. */
  expiresInSeconds: z.number().int().positive().max(10 * 365 * 86_400).optional(),
  ipAllowlist: z.array(z.string().refine(isAddressOrCidr, 'must be an IP address or CIDR block')).default([]),
  /** The user the key acts for; omitted, a user's key acts for its creator. */
  userId: z.string().optional(),
  /** A key for a service (CI, monitoring) that acts for no user; needs api-keys:create. */
  service: z.boolean().default(false),
});
export type CreateApiKeyInput = z.input<typeof createApiKeySchema>;

export interface ApiKeyView {
  id: string;
  name: string;
  userId: string | null;
  roles: string[];
  permissions: string[];
  ipAllowlist: string[];
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    userId: row.user_id,
    roles: parseJsonList(row.roles),
    permissions: parseJsonList(row.permissions),
    ipAllowlist: parseJsonList(row.ip_allowlist),
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
  };
}

/**
 * True when every permission `pattern` matches is matched by `grant` too. The grant is
 * tried against the pattern's text with each `*` read as a literal: a `*` of the
 * pattern can only be absorbed by a `*` of the grant, which absorbs whatever replaces it.
 */
function coversPattern(grant: string, pattern: string): boolean {
  return permissionMatches(grant, pattern);
}

/**
 * Creates a key and returns its secret (shown once). With `api-keys:create` any key;
 * with only `api-keys:own` a key for oneself whose roles and permissions the creator
 * already holds, so a key can never outrank the person who made it.
 */
export async function createApiKey(ctx: IdentityContext, actor: Principal, rawInput: CreateApiKeyInput, meta: RequestMeta = {}): Promise<{ key: string; view: ApiKeyView }> {
  const parsed = createApiKeySchema.safeParse(rawInput);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new ValidationError(`invalid API key request: ${issues.map((issue) => `${issue.path || '(top)'} ${issue.message}`).join('; ')}`, issues);
  }
  const input = parsed.data;
  const resource = `api-key:${input.name}`;
  if (input.service && input.userId !== undefined) throw new ValidationError('a service key acts for no user; give service or userId, not both', [{ path: 'service', message: 'conflicts with userId' }]);
  const forSelf = !input.service && actor.kind === 'user' && (input.userId === undefined || input.userId === actor.userId);
  const userId = forSelf ? actor.userId : input.userId;
  if (forSelf && !ctx.rbac.can(actor, 'api-keys:create')) {
    await authorizeAudited(ctx, actor, 'api-keys:own', { action: 'api-key.create', resource }, meta);
    const own = [...ctx.rbac.grantsOf(actor.roles), ...actor.permissions];
    const beyond = [...input.roles.flatMap((role) => ctx.rbac.grantsOf([role])), ...input.permissions].filter(
      (pattern) => !own.some((grant) => coversPattern(grant, pattern)),
    );
    if (beyond.length > 0) {
      await ctx.audit.append({ ...auditActor(actor), action: 'api-key.create', resource, decision: 'denied', reason: `beyond own grants: ${beyond.join(', ')}`, requestId: meta.requestId, ip: meta.ip });
      throw new ForbiddenError(`a key cannot grant what its creator lacks: ${beyond.join(', ')}`, 'api-keys:create');
    }
  } else {
    await authorizeAudited(ctx, actor, 'api-keys:create', { action: 'api-key.create', resource }, meta);
  }
  checkRoles(ctx, input.roles);
  if (input.roles.length === 0 && input.permissions.length === 0) {
    throw new ValidationError('an API key needs at least one role or permission', [{ path: 'roles', message: 'empty scope' }]);
  }
  if (userId !== undefined && (await ctx.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()) === undefined) {
    throw new NotFoundError(`no user ${userId}`);
  }
  const now = ctx.clock.now();
  const publicId = randomToken(ID_LENGTH);
  const secret = randomToken(SECRET_LENGTH);
  const row: ApiKeyRow = {
    id: `key_${publicId}`,
    name: input.name,
    secret_hash: hashSecret(secret).toString('hex'),
    user_id: userId ?? null,
    roles: JSON.stringify(input.roles),
    permissions: JSON.stringify(input.permissions),
    ip_allowlist: JSON.stringify(input.ipAllowlist),
    created_at: now,
    created_by: actor.id,
    expires_at: input.expiresInSeconds === undefined ? null : now + input.expiresInSeconds * 1000,
    last_used_at: null,
    revoked_at: null,
    revoked_by: null,
  };
  await ctx.db.insertInto('api_keys').values(row).execute();
  const view = apiKeyView(row);
  await ctx.audit.append({
    ...auditActor(actor),
    action: 'api-key.create',
    resource: `api-key:${row.id}`,
    decision: 'allowed',
    args: { name: view.name, userId: view.userId, roles: view.roles, permissions: view.permissions, expiresAt: view.expiresAt, ipAllowlist: view.ipAllowlist },
    requestId: meta.requestId,
    ip: meta.ip,
  });
  return { key: `${API_KEY_PREFIX}${publicId}${secret}`, view };
}

/** Everyone's keys with api-keys:read; otherwise one's own. */
export async function listApiKeys(ctx: IdentityContext, actor: Principal, meta: RequestMeta = {}): Promise<ApiKeyView[]> {
  let query = ctx.db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc');
  if (!ctx.rbac.can(actor, 'api-keys:read')) {
    await authorizeAudited(ctx, actor, 'api-keys:own', { action: 'api-key.list', resource: 'api-key:*' }, meta);
    query = query.where('user_id', '=', actor.userId ?? '\u0000');
  }
  return (await query.execute()).map(apiKeyView);
}

export async function revokeApiKey(ctx: IdentityContext, actor: Principal, id: string, meta: RequestMeta = {}): Promise<ApiKeyView> {
  const row = await ctx.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  const own = row !== undefined && row.user_id !== null && row.user_id === actor.userId;
  if (!(own && ctx.rbac.can(actor, 'api-keys:own'))) {
    await authorizeAudited(ctx, actor, 'api-keys:revoke', { action: 'api-key.revoke', resource: `api-key:${id}` }, meta);
  }
  if (row === undefined) throw new NotFoundError(`no API key ${id}`);
  const now = ctx.clock.now();
  if (row.revoked_at === null) {
    await ctx.db.updateTable('api_keys').set({ revoked_at: now, revoked_by: actor.id }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }
  await ctx.audit.append({ ...auditActor(actor), action: 'api-key.revoke', resource: `api-key:${id}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
  return apiKeyView({ ...row, revoked_at: row.revoked_at ?? now, revoked_by: row.revoked_by ?? actor.id });
}

export type ApiKeyCheck = { ok: true; principal: Principal } | { ok: false; reason: string; keyId?: string };

/**
 * Authenticates a presented key: shape, known id, constant-time secret comparison,
 * not revoked, not expired, caller IP allowed, and its user (if any) still enabled.
 */
export async function authenticateApiKey(ctx: IdentityContext, presented: string, meta: RequestMeta): Promise<ApiKeyCheck> {
  if (!API_KEY_PATTERN.test(presented)) return { ok: false, reason: 'not an ironcode API key' };
  const publicId = presented.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + ID_LENGTH);
  const secret = presented.slice(API_KEY_PREFIX.length + ID_LENGTH);
  const keyId = `key_${publicId}`;
  const row = await ctx.db.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
  const actual = hashSecret(secret);
  // Compare against something even for unknown ids, so timing does not tell them apart.
  const expected = row === undefined ? hashSecret('') : Buffer.from(row.secret_hash, 'hex');
  const matches = timingSafeEqual(actual, expected) && row !== undefined;
  // An unknown id names nobody: the guess goes in the reason, not in the principal column.
  if (row === undefined) return { ok: false, reason: `unknown key id ${keyId}` };
  if (!matches) return { ok: false, reason: 'wrong secret', keyId };
  const now = ctx.clock.now();
  if (row.revoked_at !== null) return { ok: false, reason: 'key revoked', keyId };
  if (row.expires_at !== null && row.expires_at <= now) return { ok: false, reason: 'key expired', keyId };
  const allowlist = parseJsonList(row.ip_allowlist);
  if (allowlist.length > 0 && (meta.ip === undefined || !addressMatcher(allowlist)(meta.ip))) {
    return { ok: false, reason: `client address ${meta.ip ?? 'unknown'} is not on the key's allowlist`, keyId };
  }
  let ceiling: string[] | undefined;
  if (row.user_id !== null) {
    const user = await ctx.db.selectFrom('users').select(['roles', 'disabled_at']).where('id', '=', row.user_id).executeTakeFirst();
    if (user === undefined || user.disabled_at !== null) return { ok: false, reason: 'the key’s user is disabled or gone', keyId };
    ceiling = parseJsonList(user.roles);
  }
  if (row.last_used_at === null || now - row.last_used_at > LAST_USED_GRANULARITY_MS) {
    await ctx.db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  const principal: Principal = {
    kind: row.user_id === null ? 'service' : 'api-key',
    id: row.id,
    name: row.name,
    roles: parseJsonList(row.roles),
    permissions: parseJsonList(row.permissions),
    ...(ceiling === undefined ? {} : { ceiling }),
    ...(row.user_id === null ? {} : { userId: row.user_id }),
  };
  return { ok: true, principal };
}
