import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The tables, as Kysely sees them. Times are integer milliseconds since the epoch
 * (bigint in PostgreSQL, read back as numbers), lists and objects are JSON text, and
 * flags are nullable timestamps, so one set of types fits both dialects.
 */
export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  approvals: ApprovalsTable;
}

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  /** JSON array of role names. */
  roles: string;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
  password_changed_at: number;
  last_login_at: number | null;
  failed_logins: Generated<number>;
  failure_window_start: number | null;
  locked_until: number | null;
  /** Sealed TOTP secret once enrolment is confirmed. */
  mfa_secret: string | null;
  mfa_enabled_at: number | null;
  /** Sealed TOTP secret between enrolment and its first verification. */
  mfa_pending_secret: string | null;
  /** Last TOTP time step accepted, so a code is never accepted twice. */
  mfa_last_step: number | null;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  /** SHA-256 of the secret part (the secret is 238 random bits, so no stretching is needed). */
  secret_hash: string;
  /** The user the key acts for; null for a service key. */
  user_id: string | null;
  roles: string;
  permissions: string;
  ip_allowlist: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

export interface MfaRecoveryCodesTable {
  user_id: string;
  code_hash: string;
  used_at: number | null;
}

/** A login session: one refresh-token family. Revoking it ends its access tokens too. */
export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  last_refresh_at: number | null;
  revoked_at: number | null;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
}

export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  created_at: number;
  expires_at: number;
  /** Set when the token is exchanged; a second use is reuse and revokes the session. */
  used_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  /** Sealed private JWK. */
  private_jwk: string;
  created_at: number;
  /** No longer used to sign after this time; still published until `expires_at`. */
  retire_at: number;
  expires_at: number;
}

export interface AuditEventsTable {
  seq: number;
  id: string;
  time: number;
  principal: string;
  principal_kind: string;
  action: string;
  resource: string;
  decision: string;
  reason: string | null;
  args: string;
  result: string | null;
  request_id: string | null;
  ip: string | null;
  prev_hash: string;
  hash: string;
}

/** One row: the last sequence number and hash, and a MAC over both (detects a cut tail). */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
  mac: string;
}

/** A request for a person to allow one exact action the profile marks `ask`. */
export interface ApprovalsTable {
  id: string;
  principal_id: string;
  principal_name: string;
  action_hash: string;
  /** JSON: what would run or be touched, as shown to the approver. */
  action: string;
  tool: string;
  rule: string;
  reason: string;
  /** pending | granted | denied | used | expired */
  status: string;
  requested_at: number;
  /** Pending: when the request lapses; granted: when the grant does. */
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  used_at: number | null;
}

export type ApprovalRow = Selectable<ApprovalsTable>;
export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type SessionRow = Selectable<SessionsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
