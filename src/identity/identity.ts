import { userInfo } from 'node:os';
import { UnauthenticatedError, ValidationError, systemClock } from '../core/index.js';
import type { Clock, Config } from '../core/index.js';
import type { Store } from '../store/index.js';
import { VerifiedTokens, verifyAccessToken } from './access-tokens.js';
import { API_KEY_PREFIX, authenticateApiKey, createApiKey, listApiKeys, revokeApiKey } from './api-keys.js';
import type { CreateApiKeyInput } from './api-keys.js';
import { auditActor, authorizeAudited } from './context.js';
import type { AuditSink, IdentityContext, RequestMeta, RevocationMirror } from './context.js';
import { login, loginSchema, refresh } from './login.js';
import { beginMfaEnrolment, confirmMfaEnrolment, disableMfa } from './mfa.js';
import type { Principal } from './principal.js';
import { builtinRbac } from './rbac.js';
import type { Rbac } from './rbac.js';
import { createSecretBox } from './secret-box.js';
import { endSession, sessionStatus } from './sessions.js';
import { SigningKeys } from './signing-keys.js';
import { bootstrapAdmin, changePassword, createUser, findUserById, getUser, listUsers, setUserRoles, updateUserStatus, userPrincipal } from './users.js';
import type { CreateUserInput, PasswordChange, UserStatusChange } from './users.js';

export interface IdentityOptions {
  store: Store;
  audit: AuditSink;
  auth: Config['auth'];
  /** Seals TOTP secrets and private signing keys at rest. */
  secretKey: Buffer;
  clock?: Clock;
  rbac?: Rbac;
  revocations?: RevocationMirror;
}

export type Identity = ReturnType<typeof createIdentity>;

/** Who the command line acts as: whoever can open the data directory already holds everything in it. */
export function cliPrincipal(): Principal {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // A uid without a passwd entry (containers) has no name; the id is still recorded.
  }
  return { kind: 'service', id: 'system:cli', name: `cli (${user})`, roles: ['admin'], permissions: [] };
}

/**
 * Identity's public face: users, keys, sessions, tokens, MFA and RBAC over one store,
 * every change and every refusal written to the audit sink.
 */
export function createIdentity(options: IdentityOptions) {
  const ctx: IdentityContext = {
    db: options.store.db,
    clock: options.clock ?? systemClock,
    audit: options.audit,
    rbac: options.rbac ?? builtinRbac(),
    auth: options.auth,
    totpBox: createSecretBox(options.secretKey, 'totp-secret'),
    signingBox: createSecretBox(options.secretKey, 'signing-key'),
    revocations: options.revocations,
  };
  const keys = new SigningKeys(ctx);
  const verified = new VerifiedTokens(ctx.clock);

  async function refuse(action: string, reason: string, meta: RequestMeta, principal = 'anonymous', principalKind = 'anonymous'): Promise<never> {
    await ctx.audit.append({ principal, principalKind, action, resource: 'auth', decision: 'denied', reason, requestId: meta.requestId, ip: meta.ip });
    throw new UnauthenticatedError('invalid or expired credentials');
  }

  /** A bearer credential (API key or access token) → principal; every refusal is audited. */
  async function authenticate(credential: string, meta: RequestMeta): Promise<Principal> {
    if (credential.startsWith(API_KEY_PREFIX)) {
      const check = await authenticateApiKey(ctx, credential, meta);
      if (!check.ok) return refuse('auth.api-key', check.reason, meta, check.keyId ?? 'anonymous', check.keyId === undefined ? 'anonymous' : 'api-key');
      return check.principal;
    }
    let claims = verified.get(credential);
    if (claims === undefined) {
      const check = await verifyAccessToken(ctx, keys, credential);
      if (!check.ok) return refuse('auth.token', check.reason, meta);
      claims = check.claims;
      verified.set(credential, claims);
    }
    const { userId, sessionId } = claims;
    const session = await sessionStatus(ctx, sessionId);
    if (!session.active) return refuse('auth.token', 'session ended (logout, refresh reuse or password change)', meta, userId, 'user');
    // Only a holder of the signing key can mint this: worth its own reason in the audit log.
    if (session.userId !== userId) return refuse('auth.token', `session ${sessionId} belongs to another user than the token's subject`, meta, userId, 'user');
    const user = await findUserById(ctx, userId);
    if (user === undefined || user.disabled_at !== null) return refuse('auth.token', 'user disabled or gone', meta, userId, 'user');
    return userPrincipal(user, sessionId);
  }

  return {
    rbac: ctx.rbac,
    /** Creates the signing key if none is active; call once at start. */
    async start(): Promise<void> {
      await keys.load();
      await keys.active();
    },
    authenticate,
    /** Deny by default; a refusal is audited under `audit.action` before ForbiddenError is thrown. */
    authorize: (actor: Principal, permission: string, audit: { action: string; resource: string }, meta: RequestMeta = {}) =>
      authorizeAudited(ctx, actor, permission, audit, meta),
    // async, so a malformed body rejects like every other refusal instead of throwing synchronously.
    login: async (input: unknown, meta: RequestMeta = {}) => {
      const parsed = loginSchema.safeParse(input);
      if (!parsed.success) throw new ValidationError('login needs username and password', parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
      return login(ctx, keys, parsed.data, meta);
    },
    refresh: (refreshToken: string, meta: RequestMeta = {}) => refresh(ctx, keys, refreshToken, meta),
    async logout(actor: Principal, meta: RequestMeta = {}): Promise<void> {
      if (actor.sessionId === undefined) throw new ValidationError('only a login session can log out; revoke an API key instead', [{ path: 'authorization', message: 'not a session token' }]);
      await endSession(ctx, actor.sessionId, 'logout');
      await ctx.audit.append({ ...auditActor(actor), action: 'auth.logout', resource: `session:${actor.sessionId}`, decision: 'allowed', requestId: meta.requestId, ip: meta.ip });
    },
    jwks: () => keys.jwks(),
    async rotateSigningKey(actor: Principal, meta: RequestMeta = {}) {
      await authorizeAudited(ctx, actor, 'signing-keys:rotate', { action: 'signing-key.rotate', resource: 'signing-key:*' }, meta);
      const result = await keys.rotate();
      await ctx.audit.append({ ...auditActor(actor), action: 'signing-key.rotate', resource: `signing-key:${result.active}`, decision: 'allowed', args: result, requestId: meta.requestId, ip: meta.ip });
      return result;
    },
    users: {
      create: (actor: Principal, input: CreateUserInput, meta?: RequestMeta) => createUser(ctx, actor, input, meta),
      list: (actor: Principal, meta?: RequestMeta) => listUsers(ctx, actor, meta),
      get: (actor: Principal, id: string, meta?: RequestMeta) => getUser(ctx, actor, id, meta),
      setRoles: (actor: Principal, id: string, roles: string[], meta?: RequestMeta) => setUserRoles(ctx, actor, id, roles, meta),
      updateStatus: (actor: Principal, id: string, change: UserStatusChange, meta?: RequestMeta) => updateUserStatus(ctx, actor, id, change, meta),
      changePassword: (actor: Principal, id: string, change: PasswordChange, meta?: RequestMeta) => changePassword(ctx, actor, id, change, meta),
      bootstrapAdmin: () => bootstrapAdmin(ctx, { kind: 'service', id: 'system:bootstrap', name: 'first start', roles: ['admin'], permissions: [] }),
    },
    apiKeys: {
      create: (actor: Principal, input: CreateApiKeyInput, meta?: RequestMeta) => createApiKey(ctx, actor, input, meta),
      list: (actor: Principal, meta?: RequestMeta) => listApiKeys(ctx, actor, meta),
      revoke: (actor: Principal, id: string, meta?: RequestMeta) => revokeApiKey(ctx, actor, id, meta),
    },
    mfa: {
      begin: (actor: Principal, userId: string, meta?: RequestMeta) => beginMfaEnrolment(ctx, actor, userId, meta),
      confirm: (actor: Principal, userId: string, code: string, meta?: RequestMeta) => confirmMfaEnrolment(ctx, actor, userId, code, meta),
      disable: (actor: Principal, userId: string, password: string, meta?: RequestMeta) => disableMfa(ctx, actor, userId, password, meta),
    },
    /** The configured local operator for stdio use; refuses when none is configured. */
    localOperator(): Principal {
      const operator = ctx.auth.localOperator;
      if (!operator.enabled) {
        throw new UnauthenticatedError('no local operator is configured: set auth.localOperator.enabled and its roles in ironcode.config.yaml, or pass an API key');
      }
      return { kind: 'local-operator', id: `local:${operator.name}`, name: operator.name, roles: [...operator.roles], permissions: [] };
    },
  };
}
