import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, IronError, PolicyDeniedError, toIronError, ValidationError } from './errors.js';

describe('the error catalogue', () => {
  it('gives every kind a stable, unique code, an HTTP status and an exit code', () => {
    const codes = Object.values(ERROR_KINDS).map((k) => k.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [kind, spec] of Object.entries(ERROR_KINDS)) {
      expect(spec.code).toMatch(/^IRON_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.exitCode).toBeGreaterThan(0);
      expect(new IronError(kind as keyof typeof ERROR_KINDS, 'x').code).toBe(spec.code);
    }
  });

  it('keeps the codes callers branch on', () => {
    // Changing one of these breaks every client that handles it: add a new code instead.
    expect(Object.fromEntries(Object.entries(ERROR_KINDS).map(([k, v]) => [k, [v.code, v.status, v.exitCode]]))).toEqual({
      validation: ['IRON_VALIDATION', 400, 2],
      unauthenticated: ['IRON_UNAUTHENTICATED', 401, 77],
      forbidden: ['IRON_FORBIDDEN', 403, 77],
      policyDenied: ['IRON_POLICY_DENIED', 403, 126],
      notFound: ['IRON_NOT_FOUND', 404, 66],
      conflict: ['IRON_CONFLICT', 409, 75],
      payloadTooLarge: ['IRON_PAYLOAD_TOO_LARGE', 413, 2],
      rateLimited: ['IRON_RATE_LIMITED', 429, 75],
      timeout: ['IRON_TIMEOUT', 504, 124],
      cancelled: ['IRON_CANCELLED', 499, 130],
      upstream: ['IRON_UPSTREAM', 502, 69],
      unavailable: ['IRON_UNAVAILABLE', 503, 69],
      internal: ['IRON_INTERNAL', 500, 70],
    });
  });

  it('carries typed fields, not just text', () => {
    const denied = new PolicyDeniedError('command.privilege-escalation', 'critical', 'sudo changes user');
    expect([denied.kind, denied.rule, denied.severity, denied.exitCode]).toEqual(['policyDenied', 'command.privilege-escalation', 'critical', 126]);
    const invalid = new ValidationError('bad', [{ path: 'exec.limits.timeoutMs', message: 'too small' }]);
    expect(invalid.issues[0]!.path).toBe('exec.limits.timeoutMs');
  });

  it('wraps anything thrown as internal, keeping IronErrors as they are', () => {
    const wrapped = toIronError(new TypeError('boom'));
    expect([wrapped.kind, wrapped.message]).toEqual(['internal', 'boom']);
    const kept = new ValidationError('bad');
    expect(toIronError(kept)).toBe(kept);
  });
});
