import type { Kysely } from 'kysely';
import type { Clock, Config } from '../core/index.js';
import type { Database } from '../store/index.js';
import type { Principal } from './principal.js';
import type { Rbac } from './rbac.js';
import type { SecretBox } from './secret-box.js';

/** What identity needs of the audit log; the audit module's `AuditLog` fits it. */
export interface AuditSink {
  append(event: {
    principal: string;
    principalKind: string;
    action: string;
    resource: string;
    decision: 'allowed' | 'denied' | 'failed';
    reason?: string | undefined;
    args?: unknown;
    result?: unknown;
    requestId?: string | undefined;
    ip?: string | undefined;
  }): Promise<unknown>;
}

/** Where a request came from, for the audit log and key IP allowlists. */
export interface RequestMeta {
  ip?: string | undefined;
  requestId?: string | undefined;
  userAgent?: string | undefined;
}

/** Revocations mirrored to a shared cache (Redis) so every instance sees them at once. */
export interface RevocationMirror {
  revoke(sessionId: string, ttlSeconds: number): Promise<void>;
  isRevoked(sessionId: string): Promise<boolean>;
}

export type AuthConfig = Config['auth'];

export interface IdentityContext {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditSink;
  rbac: Rbac;
  auth: AuthConfig;
  totpBox: SecretBox;
  signingBox: SecretBox;
  revocations?: RevocationMirror | undefined;
}

/** Who did something, in audit terms; `undefined` is an unauthenticated caller. */
export function auditActor(actor: Principal | undefined): { principal: string; principalKind: string } {
  return actor === undefined ? { principal: 'anonymous', principalKind: 'anonymous' } : { principal: actor.id, principalKind: actor.kind };
}

/**
 * Checks a permission and records a refusal before throwing it, so every denied
 * administrative attempt is in the audit log.
 */
export async function authorizeAudited(
  ctx: IdentityContext,
  actor: Principal,
  permission: string,
  audit: { action: string; resource: string },
  meta: RequestMeta,
): Promise<void> {
  if (ctx.rbac.can(actor, permission)) return;
  await ctx.audit.append({
    ...auditActor(actor),
    ...audit,
    decision: 'denied',
    reason: `lacks permission ${permission}`,
    requestId: meta.requestId,
    ip: meta.ip,
  });
  ctx.rbac.authorize(actor, permission);
}

export function parseJsonList(text: string): string[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}
