import { SignJWT, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { newId } from '../core/index.js';
import type { IdentityContext } from './context.js';
import { SIGNING_ALG } from './signing-keys.js';
import type { SigningKeys } from './signing-keys.js';

export interface AccessClaims {
  userId: string;
  sessionId: string;
  tokenId: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
}

const CACHE_LIMIT = 10_000;

/**
 * Tokens whose signature and claims already checked out, until they expire. The
 * result of that check cannot change for the same string before `exp` (keys stay
 * published until their last token expires), so repeating an ECDSA verification on
 * every request buys nothing. Revocation is not cached: the session is read each time.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, AccessClaims>();
  constructor(private readonly clock: { now(): number }) {}

  get(token: string): AccessClaims | undefined {
    const claims = this.#entries.get(token);
    if (claims === undefined) return undefined;
    if (claims.expiresAt <= this.clock.now()) {
      this.#entries.delete(token);
      return undefined;
    }
    return claims;
  }

  set(token: string, claims: AccessClaims): void {
    // Oldest first out: a Map iterates in insertion order.
    if (this.#entries.size >= CACHE_LIMIT) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(token, claims);
  }
}

export async function issueAccessToken(ctx: IdentityContext, keys: SigningKeys, userId: string, sessionId: string): Promise<{ token: string; expiresIn: number }> {
  const key = await keys.active();
  if (key.privateKey === undefined) throw new Error('the active signing key has no private half');
  const nowSeconds = Math.floor(ctx.clock.now() / 1000);
  const token = await new SignJWT({ sid: sessionId })
    .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(ctx.auth.issuer)
    .setAudience(ctx.auth.audience)
    .setSubject(userId)
    .setJti(newId('jti'))
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + ctx.auth.accessTokenSeconds)
    .sign(key.privateKey);
  return { token, expiresIn: ctx.auth.accessTokenSeconds };
}

export type AccessTokenCheck = { ok: true; claims: AccessClaims } | { ok: false; reason: string };

/**
 * Verifies signature, algorithm (ES256 only: `none` and HS256 with the public key are
 * refused before any key is used), issuer, audience, exp, nbf and the claims ironcode
 * needs. The session behind it is checked by the caller.
 */
export async function verifyAccessToken(ctx: IdentityContext, keys: SigningKeys, token: string): Promise<AccessTokenCheck> {
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== SIGNING_ALG) return { ok: false, reason: `algorithm ${String(header.alg)} is not accepted` };
    kid = header.kid;
  } catch {
    return { ok: false, reason: 'not a JWT' };
  }
  if (kid === undefined) return { ok: false, reason: 'token names no key (kid)' };
  const key = await keys.publicKey(kid);
  if (key === undefined) return { ok: false, reason: `unknown or expired signing key ${kid}` };
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [SIGNING_ALG],
      issuer: ctx.auth.issuer,
      audience: ctx.auth.audience,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'nbf', 'iat', 'jti', 'sub', 'sid'],
      currentDate: new Date(ctx.clock.now()),
      clockTolerance: 5,
    });
    if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
      return { ok: false, reason: 'malformed claims' };
    }
    return { ok: true, claims: { userId: payload.sub, sessionId: payload.sid, tokenId: payload.jti, expiresAt: payload.exp * 1000 } };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' };
    if (error instanceof errors.JWTClaimValidationFailed) return { ok: false, reason: `claim ${error.claim} invalid: ${error.reason}` };
    if (error instanceof errors.JWSSignatureVerificationFailed) return { ok: false, reason: 'signature invalid' };
    if (error instanceof errors.JOSEError) return { ok: false, reason: error.message };
    throw error;
  }
}
