import { exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JWK, CryptoKey } from 'jose';
import { randomToken } from '../core/index.js';
import type { SigningKeyRow } from '../store/index.js';
import type { IdentityContext } from './context.js';

/** The one algorithm ironcode signs and accepts; a token naming any other is refused. */
export const SIGNING_ALG = 'ES256';

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKey;
  privateKey?: CryptoKey;
  retireAt: number;
  expiresAt: number;
}

/** Unknown kids reload the table at most this often, so junk tokens cannot hammer the store. */
const RELOAD_INTERVAL_MS = 5_000;

/**
 * Asymmetric signing keys kept in the store (private halves sealed), so every server
 * instance signs and verifies with the same set. A key signs until `retire_at` and
 * stays published until `expires_at`, after the last token it signed has expired.
 */
export class SigningKeys {
  #keys = new Map<string, LoadedKey>();
  #lastLoad = 0;

  constructor(private readonly ctx: IdentityContext) {}

  async load(): Promise<void> {
    const now = this.ctx.clock.now();
    const rows = await this.ctx.db.selectFrom('signing_keys').selectAll().where('expires_at', '>', now).execute();
    const keys = new Map<string, LoadedKey>();
    for (const row of rows) {
      // Times come from the row even for a cached key: another instance may have retired it.
      const cached = this.#keys.get(row.kid);
      keys.set(row.kid, cached === undefined ? await this.#loadRow(row) : { ...cached, retireAt: row.retire_at, expiresAt: row.expires_at });
    }
    this.#keys = keys;
    this.#lastLoad = now;
  }

  async #loadRow(row: SigningKeyRow): Promise<LoadedKey> {
    const publicJwk = JSON.parse(row.public_jwk) as JWK;
    const privateJwk = JSON.parse(this.ctx.signingBox.open(row.private_jwk)) as JWK;
    return {
      kid: row.kid,
      publicJwk,
      publicKey: (await importJWK(publicJwk, row.alg)) as CryptoKey,
      privateKey: (await importJWK(privateJwk, row.alg)) as CryptoKey,
      retireAt: row.retire_at,
      expiresAt: row.expires_at,
    };
  }

  /** The key to sign with now, creating one when none is active (first start, or rotation due). */
  async active(): Promise<LoadedKey> {
    const now = this.ctx.clock.now();
    // Another instance may have rotated: looking again every few seconds stops this one
    // signing with a retired key well inside the minute it stays published for.
    if (now - this.#lastLoad > RELOAD_INTERVAL_MS) await this.load();
    const newest = this.#newestSigning(now);
    if (newest !== undefined) return newest;
    await this.load();
    return this.#newestSigning(now) ?? (await this.#create());
  }

  #newestSigning(now: number): LoadedKey | undefined {
    return [...this.#keys.values()].filter((key) => key.retireAt > now && key.privateKey).sort((a, b) => b.retireAt - a.retireAt)[0];
  }

  async #create(): Promise<LoadedKey> {
    const now = this.ctx.clock.now();
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = randomToken(16);
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    const retireAt = now + this.ctx.auth.signingKeyRotationSeconds * 1000;
    // Published until every token it could have signed has expired, plus a minute of clock skew.
    const expiresAt = retireAt + (this.ctx.auth.accessTokenSeconds + 60) * 1000;
    await this.ctx.db
      .insertInto('signing_keys')
      .values({
        kid,
        alg: SIGNING_ALG,
        public_jwk: JSON.stringify(publicJwk),
        private_jwk: this.ctx.signingBox.seal(JSON.stringify(await exportJWK(privateKey))),
        created_at: now,
        retire_at: retireAt,
        expires_at: expiresAt,
      })
      .execute();
    const key: LoadedKey = { kid, publicJwk, publicKey, privateKey, retireAt, expiresAt };
    this.#keys.set(kid, key);
    return key;
  }

  /** Retires the active key now and starts a new one; old tokens stay valid until they expire. */
  async rotate(): Promise<{ retired: string[]; active: string }> {
    const now = this.ctx.clock.now();
    await this.load();
    const retired = [...this.#keys.values()].filter((key) => key.retireAt > now).map((key) => key.kid);
    if (retired.length > 0) {
      const expiresAt = now + (this.ctx.auth.accessTokenSeconds + 60) * 1000;
      await this.ctx.db.updateTable('signing_keys').set({ retire_at: now, expires_at: expiresAt }).where('kid', 'in', retired).execute();
      for (const kid of retired) {
        const key = this.#keys.get(kid);
        if (key) this.#keys.set(kid, { ...key, retireAt: now, expiresAt });
      }
    }
    const active = await this.#create();
    return { retired, active: active.kid };
  }

  /** The public key for a token's `kid`, or undefined when it is unknown or expired. */
  async publicKey(kid: string): Promise<CryptoKey | undefined> {
    const now = this.ctx.clock.now();
    let key = this.#keys.get(kid);
    if (key === undefined && now - this.#lastLoad > RELOAD_INTERVAL_MS) {
      await this.load();
      key = this.#keys.get(kid);
    }
    return key !== undefined && key.expiresAt > now ? key.publicKey : undefined;
  }

  /** The JSON Web Key Set: every key that may still have valid tokens. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = this.ctx.clock.now();
    if (now - this.#lastLoad > RELOAD_INTERVAL_MS) await this.load();
    return { keys: [...this.#keys.values()].filter((key) => key.expiresAt > now).map((key) => key.publicJwk) };
  }
}
