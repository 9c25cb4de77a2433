import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { loadDataFile } from '../core/index.js';

/**
 * scrypt with N=2^15, r=8, p=1 (32 MiB, the OWASP minimum for scrypt) and a 16-byte
 * per-user salt. The parameters are stored with the hash, so raising them later
 * leaves old hashes verifiable. Runs on libuv's thread pool, off the event loop.
 */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAX_MEMORY = 128 * COST.N * COST.r * 2;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...params, maxmem: Math.max(MAX_MEMORY, 256 * params.N * params.r) }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Stored parameters outside these bounds are not a hash this code wrote; refusing them keeps a bad row from costing gigabytes. */
const PARAM_BOUNDS = { N: [2 ** 10, 2 ** 20], r: [1, 32], p: [1, 16] } as const;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseHash(encoded: string): { params: { N: number; r: number; p: number }; salt: Buffer; key: Buffer } | undefined {
  const fields = encoded.split('$');
  if (fields.length !== 6 || fields[0] !== 'scrypt') return undefined;
  const [, n = '', r = '', p = '', salt = '', key = ''] = fields;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  for (const name of ['N', 'r', 'p'] as const) {
    const value = params[name];
    const [min, max] = PARAM_BOUNDS[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) return undefined;
  }
  // 128·N·r bytes of memory: at most 256 MiB, eight times today's cost.
  if ((params.N & (params.N - 1)) !== 0 || params.N * params.r > 2 ** 21 || !BASE64.test(salt) || !BASE64.test(key)) return undefined;
  const keyBytes = Buffer.from(key, 'base64');
  if (keyBytes.length !== KEY_LENGTH) return undefined;
  return { params, salt: Buffer.from(salt, 'base64'), key: keyBytes };
}

/** False for a wrong password and for anything that is not a well-formed hash; never throws for either. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (parsed === undefined) return false;
  const actual = await derive(password, parsed.salt, parsed.params);
  return timingSafeEqual(actual, parsed.key);
}

let dummyHash: Promise<string> | undefined;

/** Spends the same time as a real check, so an unknown username is not told apart by timing. */
export async function spendPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(12).toString('hex'));
  await verifyPassword(password, await dummyHash);
}

let weak: ReadonlySet<string> | undefined;

function weakPasswords(): ReadonlySet<string> {
  weak ??= new Set(
    loadDataFile(new URL('./data/weak-passwords.yaml', import.meta.url), z.strictObject({ passwords: z.array(z.string().min(1)) })).passwords.map((entry) =>
      entry.toLowerCase(),
    ),
  );
  return weak;
}

export const PASSWORD_MAX_LENGTH = 256;

/**
 * The password policy (NIST SP 800-63B style: length and a blocklist, no composition
 * rules). Returns what is wrong, or an empty list.
 */
export function passwordProblems(password: string, username: string, minLength: number): string[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < minLength) problems.push(`must be at least ${minLength} characters (has ${length})`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`must be at most ${PASSWORD_MAX_LENGTH} characters`);
  if (new Set(password).size < 5) problems.push('must use at least 5 different characters');
  const lower = password.toLowerCase();
  if (username.length >= 3 && lower.includes(username.toLowerCase())) problems.push('must not contain the username');
  if (weakPasswords().has(lower)) problems.push('is on the list of commonly used passwords');
  return problems;
}
