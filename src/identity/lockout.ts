import { IronError } from '../core/index.js';
import type { UserRow } from '../store/index.js';
import type { IdentityContext, RequestMeta } from './context.js';
import { verifyPassword } from './passwords.js';

/** The account is locked; the client is told until when, not whether the password was right. */
export class AccountLockedError extends IronError {
  constructor(until: number) {
    super('unauthenticated', `too many failed logins; the account is locked until ${new Date(until).toISOString()}`, { details: { lockedUntil: new Date(until).toISOString() } });
    this.name = 'AccountLockedError';
  }
}

/**
 * Counts a failure atomically in the store (an UPDATE … RETURNING, not read-modify-write),
 * so guesses sent in parallel each count and cannot slip past the lockout together.
 */
export async function recordFailure(ctx: IdentityContext, user: UserRow, now: number, meta: RequestMeta, reason: string, action: string): Promise<void> {
  const { maxFailures, windowSeconds, lockSeconds } = ctx.auth.lockout;
  const windowOpenedAfter = now - windowSeconds * 1000;
  const counted = await ctx.db
    .updateTable('users')
    .set((eb) => {
      const freshWindow = eb.or([eb('failure_window_start', 'is', null), eb('failure_window_start', '<', windowOpenedAfter)]);
      return {
        failed_logins: eb.case().when(freshWindow).then(1).else(eb('failed_logins', '+', 1)).end(),
        failure_window_start: eb.case().when(freshWindow).then(now).else(eb.ref('failure_window_start')).end(),
      };
    })
    .where('id', '=', user.id)
    .returning('failed_logins')
    .executeTakeFirst();
  const failures = Number(counted?.failed_logins ?? 1);
  const locks = failures >= maxFailures;
  if (locks) {
    await ctx.db.updateTable('users').set({ failed_logins: 0, failure_window_start: null, locked_until: now + lockSeconds * 1000 }).where('id', '=', user.id).execute();
  }
  await ctx.audit.append({ principal: user.id, principalKind: 'user', action, resource: `user:${user.id}`, decision: 'denied', reason, args: { username: user.username }, requestId: meta.requestId, ip: meta.ip });
  if (locks) {
    await ctx.audit.append({
      principal: user.id,
      principalKind: 'user',
      action: 'auth.lockout',
      resource: `user:${user.id}`,
      decision: 'denied',
      reason: `${failures} failed password checks within ${windowSeconds} s (last: ${action}); locked for ${lockSeconds} s`,
      requestId: meta.requestId,
      ip: meta.ip,
    });
  }
}

export async function refuseLocked(ctx: IdentityContext, user: UserRow, lockedUntil: number, meta: RequestMeta, action: string): Promise<never> {
  await ctx.audit.append({ principal: user.id, principalKind: 'user', action, resource: `user:${user.id}`, decision: 'denied', reason: 'account locked', requestId: meta.requestId, ip: meta.ip });
  throw new AccountLockedError(lockedUntil);
}

/** The lock as the store has it now: a parallel attempt may have set it while this one checked the password. */
export async function currentLock(ctx: IdentityContext, userId: string, now: number): Promise<number | undefined> {
  const row = await ctx.db.selectFrom('users').select('locked_until').where('id', '=', userId).executeTakeFirst();
  return row?.locked_until != null && row.locked_until > now ? row.locked_until : undefined;
}

/**
 * Checks a password outside login (changing it, turning MFA off) under the same
 * lockout: a stolen access token must not become an unthrottled password oracle.
 * Returns true when it matches; a wrong one counts towards the lock.
 */
export async function checkPasswordUnderLockout(ctx: IdentityContext, user: UserRow, password: string, meta: RequestMeta, action: string): Promise<boolean> {
  const now = ctx.clock.now();
  if (user.locked_until !== null && user.locked_until > now) return refuseLocked(ctx, user, user.locked_until, meta, action);
  const matches = await verifyPassword(password, user.password_hash);
  const lockedMeanwhile = await currentLock(ctx, user.id, now);
  if (lockedMeanwhile !== undefined) return refuseLocked(ctx, user, lockedMeanwhile, meta, action);
  if (!matches) await recordFailure(ctx, user, now, meta, 'wrong password', action);
  return matches;
}
