import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * `length` characters of base62 from the system CSPRNG, without modulo bias (bytes
 * at or above 248 are redrawn), so every character carries log2(62) bits.
 */
export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = nextRandomByte();
    if (byte >= 248) continue;
    out += ALPHABET[byte % 62];
  }
  return out;
}

/**
 * Random bytes drawn from the CSPRNG 4 KiB at a time, as crypto.randomUUID does: a
 * system call per id showed in profiles of busy servers (every call and audit event
 * gets ids). Each byte is handed out once.
 */
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

function nextRandomByte(): number {
  if (poolOffset === POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  return POOL[poolOffset++]!;
}

/**
 * A record id: a time prefix (base36 milliseconds, so ids sort by creation in both
 * databases) and 12 random base62 characters.
 */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${randomToken(12)}`;
}
