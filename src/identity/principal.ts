/** Who acts. Every request, tool call and audit record names one. */
export type PrincipalKind = 'user' | 'api-key' | 'service' | 'local-operator';

export interface Principal {
  readonly kind: PrincipalKind;
  /** `usr_…` for users, `key_…` for keys, the configured name for the local operator. */
  readonly id: string;
  /** Username, key name or operator name: what people read in the audit log. */
  readonly name: string;
  readonly roles: readonly string[];
  /** Explicit grants beside the roles (API keys scoped to permissions). */
  readonly permissions: readonly string[];
  /**
   * Roles that bound what this principal may do whatever its own grants say: a key
   * acting for a user never outranks the user's current roles.
   */
  readonly ceiling?: readonly string[];
  /** The user behind a session or a user's key. */
  readonly userId?: string;
  /** The login session of a bearer token, so it can be ended. */
  readonly sessionId?: string;
}
