/**
 * The one family of typed errors. Each kind has a stable code that callers branch
 * on (never the message text), an HTTP status and a CLI exit code, so that every
 * edge (HTTP, MCP, CLI) maps them the same way.
 */

export const ERROR_KINDS = {
  validation: { code: 'IRON_VALIDATION', status: 400, exitCode: 2, retryable: false },
  unauthenticated: { code: 'IRON_UNAUTHENTICATED', status: 401, exitCode: 77, retryable: false },
  forbidden: { code: 'IRON_FORBIDDEN', status: 403, exitCode: 77, retryable: false },
  policyDenied: { code: 'IRON_POLICY_DENIED', status: 403, exitCode: 126, retryable: false },
  notFound: { code: 'IRON_NOT_FOUND', status: 404, exitCode: 66, retryable: false },
  conflict: { code: 'IRON_CONFLICT', status: 409, exitCode: 75, retryable: true },
  payloadTooLarge: { code: 'IRON_PAYLOAD_TOO_LARGE', status: 413, exitCode: 2, retryable: false },
  rateLimited: { code: 'IRON_RATE_LIMITED', status: 429, exitCode: 75, retryable: true },
  timeout: { code: 'IRON_TIMEOUT', status: 504, exitCode: 124, retryable: true },
  /** The caller gave up (cancelled the request, closed the connection); 499 as nginx logs it. */
  cancelled: { code: 'IRON_CANCELLED', status: 499, exitCode: 130, retryable: false },
  upstream: { code: 'IRON_UPSTREAM', status: 502, exitCode: 69, retryable: true },
  unavailable: { code: 'IRON_UNAVAILABLE', status: 503, exitCode: 69, retryable: true },
  internal: { code: 'IRON_INTERNAL', status: 500, exitCode: 70, retryable: false },
} as const;

export type ErrorKind = keyof typeof ERROR_KINDS;
export type ErrorCode = (typeof ERROR_KINDS)[ErrorKind]['code'];

export interface IronErrorOptions {
  cause?: unknown;
  /** Structured detail safe to show the caller (field names, rule ids …). */
  details?: Record<string, unknown>;
}

export class IronError extends Error {
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly status: number;
  readonly exitCode: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, options: IronErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec = ERROR_KINDS[kind];
    this.name = 'IronError';
    this.kind = kind;
    this.code = spec.code;
    this.status = spec.status;
    this.exitCode = spec.exitCode;
    this.retryable = spec.retryable;
    this.details = options.details ?? {};
  }
}

/** Caller's input was wrong; `field` names what. */
export class ValidationError extends IronError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = [], options: IronErrorOptions = {}) {
    super('validation', message, { ...options, details: { ...options.details, issues } });
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** The safety policy refused an action; carries the rule that did. */
export class PolicyDeniedError extends IronError {
  readonly rule: string;
  readonly severity: string;
  constructor(rule: string, severity: string, reason: string) {
    super('policyDenied', reason, { details: { rule, severity } });
    this.name = 'PolicyDeniedError';
    this.rule = rule;
    this.severity = severity;
  }
}

export class TimeoutError extends IronError {
  constructor(message: string, options: IronErrorOptions = {}) {
    super('timeout', message, options);
    this.name = 'TimeoutError';
  }
}

export class NotFoundError extends IronError {
  constructor(message: string, options: IronErrorOptions = {}) {
    super('notFound', message, options);
    this.name = 'NotFoundError';
  }
}

export class UnavailableError extends IronError {
  constructor(message: string, options: IronErrorOptions = {}) {
    super('unavailable', message, options);
    this.name = 'UnavailableError';
  }
}

/** No valid credentials were presented. The message never says which part was wrong. */
export class UnauthenticatedError extends IronError {
  constructor(message = 'authentication required', options: IronErrorOptions = {}) {
    super('unauthenticated', message, options);
    this.name = 'UnauthenticatedError';
  }
}

/** The principal is known but lacks the permission; `permission` names it. */
export class ForbiddenError extends IronError {
  readonly permission: string | undefined;
  constructor(message: string, permission?: string, options: IronErrorOptions = {}) {
    super('forbidden', message, { ...options, details: { ...options.details, ...(permission === undefined ? {} : { permission }) } });
    this.name = 'ForbiddenError';
    this.permission = permission;
  }
}

export class ConflictError extends IronError {
  constructor(message: string, options: IronErrorOptions = {}) {
    super('conflict', message, options);
    this.name = 'ConflictError';
  }
}

export function isIronError(error: unknown): error is IronError {
  return error instanceof IronError;
}

/** Wraps anything thrown into the family, keeping IronErrors as they are. */
export function toIronError(error: unknown): IronError {
  if (error instanceof IronError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new IronError('internal', message, { cause: error });
}
