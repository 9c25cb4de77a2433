import { createHash } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, randomToken } from '../core/index.js';
import type { UserRow } from '../store/index.js';
import { auditActor, authorizeAudited } from './context.js';
import type { IdentityContext, RequestMeta } from './context.js';
import { checkPasswordUnderLockout } from './lockout.js';
import type { Principal } from './principal.js';

const RECOVERY_CODES = 10;
/** One step either side of now, for clocks that drift. */
const TOLERANCE_SECONDS = 30;
/** otplib's default TOTP period. */
const PERIOD_SECONDS = 30;

const hashCode = (code: string) => createHash('sha256').update(code.replace(/[\s-]/g, '').toLowerCase()).digest('hex');

async function requireSelf(ctx: IdentityContext, actor: Principal, userId: string, action: string, meta: RequestMeta): Promise<UserRow> {
  // MFA belongs to the person: nobody enrols or verifies a second factor for someone else.
  if (!(actor.kind === 'user' && actor.userId === userId)) {
    await ctx.audit.append({ ...auditActor(actor), action, resource: `user:${userId}`, decision: 'denied', reason: 'only the user may manage their own MFA', requestId: meta.requestId, ip: meta.ip });
    throw new ForbiddenError('only the user may manage their own MFA');
  }
  await authorizeAudited(ctx, actor, 'self:update', { action, resource: `user:${userId}` }, meta);
  const user = await ctx.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  if (user === undefined) throw new NotFoundError(`no user ${userId}`);
  return user;
}

/** Starts enrolment: a new secret, pending until a code from it is verified. */
export async function beginMfaEnrolment(ctx: IdentityContext, actor: Principal, userId: string, meta: RequestMeta = {}): Promise<{ secret: string; otpauthUri: string }> {
  const user = await requireSelf(ctx, actor, userId, 'auth.mfa.enrol', meta);
  if (user.mfa_enabled_at !== null) throw new ConflictError('MFA is already enabled; disable it before enrolling again');
  const secret = generateSecret({ length: 20 });
  await ctx.db.updateTable('users').set({ mfa_pending_secret: ctx.totpBox.seal(secret), updated_at: ctx.clock.now() }).where('id', '=', userId).execute();
  await ctx.audit.append({ ...auditActor(actor), action: 'auth.mfa.enrol', resource: `user:${userId}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
  return { secret, otpauthUri: generateURI({ issuer: ctx.auth.issuer, label: user.username, secret }) };
}

async function checkTotp(ctx: IdentityContext, secret: string, code: string, afterStep: number | null): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const epoch = Math.floor(ctx.clock.now() / 1000);
  // A step already used lies beyond the whole window when this clock is behind the one
  // that accepted it (stepped back, or another instance running ahead): no code can be
  // fresh then, and otplib would throw rather than say so.
  if (afterStep !== null && afterStep >= Math.floor((epoch + TOLERANCE_SECONDS) / PERIOD_SECONDS)) return undefined;
  const result = await verify({
    secret,
    token: code,
    epoch,
    epochTolerance: TOLERANCE_SECONDS,
    ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

/** Confirms enrolment with a code from the new secret; returns the one-time recovery codes (shown once). */
export async function confirmMfaEnrolment(ctx: IdentityContext, actor: Principal, userId: string, code: string, meta: RequestMeta = {}): Promise<{ recoveryCodes: string[] }> {
  const user = await requireSelf(ctx, actor, userId, 'auth.mfa.enable', meta);
  if (user.mfa_pending_secret === null) throw new ConflictError('no MFA enrolment is pending; start one first');
  const step = await checkTotp(ctx, ctx.totpBox.open(user.mfa_pending_secret), code, null);
  if (step === undefined) {
    await ctx.audit.append({ ...auditActor(actor), action: 'auth.mfa.enable', resource: `user:${userId}`, decision: 'denied', reason: 'wrong code', requestId: meta.requestId, ip: meta.ip });
    throw new ValidationError('the code does not match the secret being enrolled', [{ path: 'code', message: 'wrong code' }]);
  }
  const recoveryCodes = Array.from({ length: RECOVERY_CODES }, () => {
    const raw = randomToken(10).toLowerCase();
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('users')
      .set({ mfa_secret: user.mfa_pending_secret, mfa_pending_secret: null, mfa_enabled_at: now, mfa_last_step: step, updated_at: now })
      .where('id', '=', userId)
      .execute();
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    await trx
      .insertInto('mfa_recovery_codes')
      .values(recoveryCodes.map((entry) => ({ user_id: userId, code_hash: hashCode(entry), used_at: null })))
      .execute();
  });
  await ctx.audit.append({ ...auditActor(actor), action: 'auth.mfa.enable', resource: `user:${userId}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
  return { recoveryCodes };
}

/** Turns MFA off; takes the password again, so a stolen access token alone cannot. */
export async function disableMfa(ctx: IdentityContext, actor: Principal, userId: string, password: string, meta: RequestMeta = {}): Promise<void> {
  const user = await requireSelf(ctx, actor, userId, 'auth.mfa.disable', meta);
  // A wrong password is audited and counted towards the lockout by the check itself.
  if (!(await checkPasswordUnderLockout(ctx, user, password, meta, 'auth.mfa.disable'))) {
    throw new ValidationError('the password is wrong', [{ path: 'password', message: 'does not match' }]);
  }
  await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('users').set({ mfa_secret: null, mfa_pending_secret: null, mfa_enabled_at: null, mfa_last_step: null, updated_at: ctx.clock.now() }).where('id', '=', userId).execute();
    await trx.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
  });
  await ctx.audit.append({ ...auditActor(actor), action: 'auth.mfa.disable', resource: `user:${userId}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
}

/**
 * Checks a second factor at login: a TOTP code (never the same time step twice) or
 * an unused recovery code, which is then spent. Returns how it passed, or undefined.
 */
export async function checkSecondFactor(ctx: IdentityContext, user: UserRow, code: string): Promise<'totp' | 'recovery-code' | undefined> {
  if (user.mfa_secret === null) return undefined;
  const step = await checkTotp(ctx, ctx.totpBox.open(user.mfa_secret), code.trim(), user.mfa_last_step);
  if (step !== undefined) {
    const claimed = await ctx.db
      .updateTable('users')
      .set({ mfa_last_step: step })
      .where('id', '=', user.id)
      .where((eb) => eb.or([eb('mfa_last_step', 'is', null), eb('mfa_last_step', '<', step)]))
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 1 ? 'totp' : undefined;
  }
  const spent = await ctx.db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: ctx.clock.now() })
    .where('user_id', '=', user.id)
    .where('code_hash', '=', hashCode(code))
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(spent.numUpdatedRows) === 1 ? 'recovery-code' : undefined;
}
