import { createHash } from 'node:crypto';
import { newId, randomToken } from '../core/index.js';
import type { IdentityContext, RequestMeta } from './context.js';

export const REFRESH_TOKEN_PREFIX = 'ironcode_rt_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Opens a session (a refresh-token family) and returns its first refresh token. */
export async function openSession(ctx: IdentityContext, userId: string, meta: RequestMeta): Promise<{ sessionId: string; refreshToken: string; expiresAt: number }> {
  const now = ctx.clock.now();
  const sessionId = newId('ses');
  const expiresAt = now + ctx.auth.refreshTokenSeconds * 1000;
  const refreshToken = REFRESH_TOKEN_PREFIX + randomToken(43);
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('sessions')
      .values({ id: sessionId, user_id: userId, created_at: now, expires_at: expiresAt, last_refresh_at: null, revoked_at: null, revoked_reason: null, ip: meta.ip ?? null, user_agent: meta.userAgent?.slice(0, 256) ?? null })
      .execute();
    await trx.insertInto('refresh_tokens').values({ token_hash: hashToken(refreshToken), session_id: sessionId, created_at: now, expires_at: expiresAt, used_at: null }).execute();
  });
  return { sessionId, refreshToken, expiresAt };
}

export async function endSession(ctx: IdentityContext, sessionId: string, reason: string): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('id', '=', sessionId).where('revoked_at', 'is', null).execute();
  await ctx.revocations?.revoke(sessionId, ctx.auth.refreshTokenSeconds);
}

export async function endAllSessions(ctx: IdentityContext, userId: string, reason: string): Promise<number> {
  const live = await ctx.db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  for (const { id } of live) await endSession(ctx, id, reason);
  return live.length;
}

/**
 * Whether the session exists, has not ended and has not expired, and whose it is. The
 * store is the authority; a configured mirror (Redis) is asked first so a revocation
 * made on another instance counts even if this store read raced it. The caller must
 * compare `userId` with the token's `sub`: otherwise one live session (say, the
 * attacker's own) would carry whatever subject a token names once the signing key leaks.
 */
export async function sessionStatus(ctx: IdentityContext, sessionId: string): Promise<{ active: boolean; userId?: string }> {
  if (ctx.revocations && (await ctx.revocations.isRevoked(sessionId))) return { active: false };
  const row = await ctx.db.selectFrom('sessions').select(['revoked_at', 'expires_at', 'user_id']).where('id', '=', sessionId).executeTakeFirst();
  if (row === undefined) return { active: false };
  return { active: row.revoked_at === null && row.expires_at > ctx.clock.now(), userId: row.user_id };
}

export type RefreshOutcome =
  | { ok: true; userId: string; sessionId: string; refreshToken: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'session-ended' | 'reuse'; sessionId?: string; userId?: string };

/**
 * Exchanges a refresh token for a new one in the same session. A token that was
 * already exchanged is reuse: someone holds a copy, so the whole session ends.
 */
export async function rotateRefreshToken(ctx: IdentityContext, token: string): Promise<RefreshOutcome> {
  const now = ctx.clock.now();
  const tokenHash = hashToken(token);
  const row = await ctx.db
    .selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .select(['refresh_tokens.used_at', 'refresh_tokens.expires_at', 'sessions.id as session_id', 'sessions.user_id', 'sessions.revoked_at'])
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (row === undefined) return { ok: false, reason: 'unknown' };
  const found = { sessionId: row.session_id, userId: row.user_id };
  if (row.revoked_at !== null) return { ok: false, reason: 'session-ended', ...found };
  if (row.used_at !== null) {
    await endSession(ctx, row.session_id, 'refresh token reused');
    return { ok: false, reason: 'reuse', ...found };
  }
  if (row.expires_at <= now) return { ok: false, reason: 'expired', ...found };

  const next = REFRESH_TOKEN_PREFIX + randomToken(43);
  const claimed = await ctx.db.transaction().execute(async (trx) => {
    // Conditional on used_at still being null: of two concurrent exchanges only one wins.
    const result = await trx.updateTable('refresh_tokens').set({ used_at: now }).where('token_hash', '=', tokenHash).where('used_at', 'is', null).executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await trx.insertInto('refresh_tokens').values({ token_hash: hashToken(next), session_id: row.session_id, created_at: now, expires_at: row.expires_at, used_at: null }).execute();
    await trx.updateTable('sessions').set({ last_refresh_at: now }).where('id', '=', row.session_id).execute();
    return true;
  });
  if (!claimed) {
    await endSession(ctx, row.session_id, 'refresh token reused');
    return { ok: false, reason: 'reuse', ...found };
  }
  return { ok: true, ...found, refreshToken: next };
}
