import { z } from 'zod';
import type { ServerDeps } from '../deps.js';
import { defineRoute } from '../route.js';

const tokenPair = z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number() });
const principalView = z.object({ kind: z.string(), id: z.string(), name: z.string(), roles: z.array(z.string()), permissions: z.array(z.string()) });

export function authRoutes({ identity }: ServerDeps) {
  return [
    defineRoute({
      method: 'POST',
      url: '/auth/login',
      tag: 'auth',
      summary: 'Exchange a username, password and (if enrolled) TOTP code for tokens',
      auth: 'none',
      authLimited: true,
      body: z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024), totp: z.string().min(6).max(32).optional() }),
      response: tokenPair,
      handler: ({ body, meta }) => identity.login(body, meta),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/refresh',
      tag: 'auth',
      summary: 'Exchange a refresh token for new tokens; a reused refresh token ends its session',
      auth: 'none',
      authLimited: true,
      body: z.strictObject({ refresh_token: z.string().min(1).max(256) }),
      response: tokenPair,
      handler: ({ body, meta }) => identity.refresh(body.refresh_token, meta),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/logout',
      tag: 'auth',
      summary: 'End the session of the presented access token',
      auth: 'required',
      status: 204,
      handler: ({ principal, meta }) => identity.logout(principal, meta),
    }),
    defineRoute({
      method: 'GET',
      url: '/auth/me',
      tag: 'auth',
      summary: 'Who the caller is, with roles and (for users) the account',
      auth: 'required',
      response: z.object({ principal: principalView, user: z.unknown().optional() }),
      async handler({ principal, meta }) {
        const view = { kind: principal.kind, id: principal.id, name: principal.name, roles: [...principal.roles], permissions: [...principal.permissions] };
        if (principal.kind !== 'user' || principal.userId === undefined) return { principal: view };
        return { principal: view, user: await identity.users.get(principal, principal.userId, meta) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/password',
      tag: 'auth',
      summary: 'Change one’s own password (ends every session)',
      auth: 'required',
      status: 204,
      body: z.strictObject({ current_password: z.string().min(1).max(1024), new_password: z.string().min(1).max(1024) }),
      handler: ({ principal, body, meta }) =>
        identity.users.changePassword(principal, principal.userId ?? '', { currentPassword: body.current_password, newPassword: body.new_password }, meta),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/mfa/enrol',
      tag: 'auth',
      summary: 'Start TOTP enrolment: returns the secret and an otpauth:// URI',
      auth: 'required',
      response: z.object({ secret: z.string(), otpauth_uri: z.string() }),
      async handler({ principal, meta }) {
        const result = await identity.mfa.begin(principal, principal.userId ?? '', meta);
        return { secret: result.secret, otpauth_uri: result.otpauthUri };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/mfa/verify',
      tag: 'auth',
      summary: 'Confirm enrolment with a code; returns one-time recovery codes (shown once)',
      auth: 'required',
      body: z.strictObject({ code: z.string().regex(/^\d{6}$/, 'six digits') }),
      response: z.object({ recovery_codes: z.array(z.string()) }),
      async handler({ principal, body, meta }) {
        const result = await identity.mfa.confirm(principal, principal.userId ?? '', body.code, meta);
        return { recovery_codes: result.recoveryCodes };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/mfa/disable',
      tag: 'auth',
      summary: 'Turn MFA off (needs the password)',
      auth: 'required',
      status: 204,
      body: z.strictObject({ password: z.string().min(1).max(1024) }),
      handler: ({ principal, body, meta }) => identity.mfa.disable(principal, principal.userId ?? '', body.password, meta),
    }),
    defineRoute({
      method: 'GET',
      url: '/.well-known/jwks.json',
      tag: 'auth',
      summary: 'The public keys that verify ironcode access tokens',
      auth: 'none',
      response: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
      handler: () => identity.jwks(),
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/signing-keys/rotate',
      tag: 'auth',
      summary: 'Start a new signing key; tokens signed by the old one stay valid until they expire',
      auth: 'required',
      permission: 'signing-keys:rotate',
      response: z.object({ retired: z.array(z.string()), active: z.string() }),
      handler: ({ principal, meta }) => identity.rotateSigningKey(principal, meta),
    }),
  ];
}
