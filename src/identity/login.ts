import { z } from 'zod';
import { IronError, UnauthenticatedError } from '../core/index.js';
import { issueAccessToken } from './access-tokens.js';
import type { IdentityContext, RequestMeta } from './context.js';
import { currentLock, recordFailure, refuseLocked } from './lockout.js';
import { checkSecondFactor } from './mfa.js';
import { spendPasswordCheck, verifyPassword, PASSWORD_MAX_LENGTH } from './passwords.js';
import { endSession, openSession, rotateRefreshToken } from './sessions.js';
import type { SigningKeys } from './signing-keys.js';
import { findUserById, findUserByName } from './users.js';

export { AccountLockedError } from './lockout.js';

export const loginSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH * 4),
  totp: z.string().min(6).max(32).optional(),
});
export type LoginInput = z.infer<typeof loginSchema>;

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** The second factor is missing: 401 with a code the client can act on. */
export class MfaRequiredError extends IronError {
  constructor() {
    super('unauthenticated', 'this account requires a TOTP code or a recovery code (field "totp")', { details: { mfa: 'required' } });
    this.name = 'MfaRequiredError';
  }
}

const FAILED = 'invalid username or password';

/**
 * Password (and second factor) → session and tokens. Unknown users cost the same
 * time as known ones; a locked account is refused before the password is checked,
 * so guessing cannot continue during the lock.
 */
export async function login(ctx: IdentityContext, keys: SigningKeys, input: LoginInput, meta: RequestMeta): Promise<TokenPair> {
  const now = ctx.clock.now();
  const user = await findUserByName(ctx, input.username);
  if (user === undefined) {
    await spendPasswordCheck(input.password);
    await ctx.audit.append({ principal: 'anonymous', principalKind: 'anonymous', action: 'auth.login', resource: `user:${input.username.slice(0, 64)}`, decision: 'denied', reason: 'unknown user', requestId: meta.requestId, ip: meta.ip });
    throw new UnauthenticatedError(FAILED);
  }
  if (user.locked_until !== null && user.locked_until > now) return refuseLocked(ctx, user, user.locked_until, meta, 'auth.login');
  const passwordMatches = await verifyPassword(input.password, user.password_hash);
  // Locked meanwhile by a parallel attempt: refused the same way whether this password
  // was right or wrong, so parallel guessing learns nothing past the lock.
  const lockedMeanwhile = await currentLock(ctx, user.id, now);
  if (lockedMeanwhile !== undefined) return refuseLocked(ctx, user, lockedMeanwhile, meta, 'auth.login');
  if (!passwordMatches) {
    await recordFailure(ctx, user, now, meta, 'wrong password', 'auth.login');
    throw new UnauthenticatedError(FAILED);
  }
  if (user.disabled_at !== null) {
    await ctx.audit.append({ principal: user.id, principalKind: 'user', action: 'auth.login', resource: `user:${user.id}`, decision: 'denied', reason: 'account disabled', requestId: meta.requestId, ip: meta.ip });
    throw new UnauthenticatedError(FAILED);
  }
  let factor: string = 'password';
  if (user.mfa_enabled_at !== null) {
    if (input.totp === undefined) {
      await ctx.audit.append({ principal: user.id, principalKind: 'user', action: 'auth.login', resource: `user:${user.id}`, decision: 'denied', reason: 'second factor required', requestId: meta.requestId, ip: meta.ip });
      throw new MfaRequiredError();
    }
    const second = await checkSecondFactor(ctx, user, input.totp);
    if (second === undefined) {
      await recordFailure(ctx, user, now, meta, 'wrong second factor', 'auth.login');
      throw new UnauthenticatedError('invalid second factor');
    }
    factor = `password+${second}`;
  }
  await ctx.db.updateTable('users').set({ failed_logins: 0, failure_window_start: null, locked_until: null, last_login_at: now }).where('id', '=', user.id).execute();
  const session = await openSession(ctx, user.id, meta);
  const access = await issueAccessToken(ctx, keys, user.id, session.sessionId);
  await ctx.audit.append({ principal: user.id, principalKind: 'user', action: 'auth.login', resource: `user:${user.id}`, decision: 'allowed', args: { factor, session: session.sessionId }, requestId: meta.requestId, ip: meta.ip });
  return { access_token: access.token, refresh_token: session.refreshToken, token_type: 'Bearer', expires_in: access.expiresIn };
}

export async function refresh(ctx: IdentityContext, keys: SigningKeys, refreshToken: string, meta: RequestMeta): Promise<TokenPair> {
  const outcome = await rotateRefreshToken(ctx, refreshToken);
  if (outcome.ok) {
    const user = await findUserById(ctx, outcome.userId);
    if (user !== undefined && user.disabled_at === null) {
      const access = await issueAccessToken(ctx, keys, user.id, outcome.sessionId);
      await ctx.audit.append({ principal: user.id, principalKind: 'user', action: 'auth.refresh', resource: `session:${outcome.sessionId}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
      return { access_token: access.token, refresh_token: outcome.refreshToken, token_type: 'Bearer', expires_in: access.expiresIn };
    }
    await endSession(ctx, outcome.sessionId, 'user disabled');
  }
  const reason = outcome.ok ? 'user disabled' : outcome.reason === 'reuse' ? 'refresh token reused: session revoked' : `refresh token ${outcome.reason}`;
  await ctx.audit.append({
    principal: (outcome.ok ? outcome.userId : outcome.userId) ?? 'anonymous',
    principalKind: (outcome.ok ? outcome.userId : outcome.userId) === undefined ? 'anonymous' : 'user',
    action: outcome.ok || outcome.reason !== 'reuse' ? 'auth.refresh' : 'auth.refresh-reuse',
    resource: `session:${outcome.sessionId ?? 'unknown'}`,
    decision: 'denied',
    reason,
    requestId: meta.requestId,
    ip: meta.ip,
  });
  throw new UnauthenticatedError('invalid refresh token');
}
