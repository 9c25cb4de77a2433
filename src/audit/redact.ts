/**
 * Redaction for what goes into the audit log. The log is read by more people than the
 * secrets it would otherwise hold, and it can never be edited afterwards, so anything
 * that looks like a credential is dropped on the way in.
 */

export const REDACTED = '[REDACTED]';

/** Words that make any key secret wherever they stand: `password`, `clientSecret`, `set-cookie`. */
const SECRET_WORDS: ReadonlySet<string> = new Set(['password', 'passwd', 'passphrase', 'pass', 'pwd', 'secret', 'secrets', 'authorization', 'cookie', 'cookies', 'totp', 'otp', 'credential', 'credentials', 'recovery', 'private']);
/** Words that make a key secret when they end it: `accessToken`, `api_key`, but not `inputTokens` or `keyId`. */
const SECRET_LAST_WORDS: ReadonlySet<string> = new Set(['token', 'key', 'apikey']);

/**
 * Whether values under this object key are never stored, whatever they hold. The key
 * is split into words (camelCase, snake_case, kebab-case) so that counts and ids that
 * merely contain a secret-sounding word (`inputTokens`, `keyId`, `bypass`) are kept.
 */
export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
  const last = words.at(-1);
  return words.some((word) => SECRET_WORDS.has(word)) || (last !== undefined && SECRET_LAST_WORDS.has(last));
}

/** Serialised args (or result) larger than this are replaced by a preview. */
export const MAX_REDACTED_BYTES = 8 * 1024;
const PREVIEW_CHARS = 512;
const MAX_DEPTH = 10;
// Bounds the work done on hostile input before the byte cap applies; anything this
// big ends up as a preview anyway.
const MAX_ITEMS = 256;
const MAX_STRING_CHARS = MAX_REDACTED_BYTES;

/** Credentials that can sit inside a longer string (a command line, a header, a URL). */
const CREDENTIAL_PATTERNS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi,
  // Header plus a dot is enough: a JWT cut short still carries its claims.
  /\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?/g,
  /(?<![A-Za-z0-9])ironcode_[A-Za-z0-9_-]{16,}/g,
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16})/g,
];
/** The password in `scheme://user:password@host`. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:)[^\s@/]+@/gi;

/** Replaces credential-looking parts of a free-text string; a string that is wholly one becomes `[REDACTED]`. */
export function scrubText(text: string): string {
  if (text.startsWith('ironcode_')) return REDACTED;
  let out = text;
  for (const pattern of CREDENTIAL_PATTERNS) out = out.replace(pattern, REDACTED);
  return out.replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/**
 * A deep, JSON-safe copy of `value` with secrets removed: values under secret-looking
 * keys and credential-looking strings become `[REDACTED]`; cycles, depth and size are
 * capped. The result always serialises to valid JSON of at most 8 KiB: a larger one
 * becomes `{ truncated: true, bytes, preview }`, never a document cut in the middle.
 */
export function redact(value: unknown): unknown {
  const copy = copyRedacted(value, 0, new Set()) ?? null;
  const text = JSON.stringify(copy);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= MAX_REDACTED_BYTES) return copy;
  return { truncated: true, bytes, preview: cutChars(text, PREVIEW_CHARS) };
}

/** At most `max` UTF-16 units, never splitting a surrogate pair. */
export function cutChars(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

function redactString(text: string): string {
  const shortened = text.length > MAX_STRING_CHARS ? `${cutChars(text, MAX_STRING_CHARS)}…[${text.length - MAX_STRING_CHARS} more chars]` : text;
  return scrubText(shortened);
}

/** `undefined` means "leave out" (as JSON.stringify does for functions and symbols). */
function copyRedacted(value: unknown, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
      return redactString(value);
    case 'number':
      // NaN and ±Infinity are not JSON; -0 would not survive a round trip.
      return Number.isFinite(value) ? value + 0 : null;
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated: nested too deep]';
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (ArrayBuffer.isView(object)) return `[binary: ${object.byteLength} bytes]`;
  if (object instanceof ArrayBuffer) return `[binary: ${object.byteLength} bytes]`;

  ancestors.add(object);
  try {
    if (object instanceof Error) {
      const code = (object as { code?: unknown }).code;
      return { name: redactString(object.name), message: redactString(object.message), ...(typeof code === 'string' ? { code: redactString(code) } : {}) };
    }
    if (Array.isArray(object)) return copyList(object, depth, ancestors);
    if (object instanceof Set) return copyList([...object], depth, ancestors);
    if (object instanceof Map) return copyEntries([...object].map(([key, item]) => [String(key), () => item as unknown]), depth, ancestors);
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const plain = readSafely(() => (toJSON as () => unknown).call(object));
      return copyRedacted(plain, depth + 1, ancestors);
    }
    return copyEntries(
      Object.keys(object).map((key) => [key, () => (object as Record<string, unknown>)[key]]),
      depth,
      ancestors,
    );
  } finally {
    ancestors.delete(object);
  }
}

function copyList(items: readonly unknown[], depth: number, ancestors: Set<object>): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < Math.min(items.length, MAX_ITEMS); i++) out.push(copyRedacted(items[i], depth + 1, ancestors) ?? null);
  if (items.length > MAX_ITEMS) out.push(`[… ${items.length - MAX_ITEMS} more items]`);
  return out;
}

function copyEntries(entries: ReadonlyArray<readonly [string, () => unknown]>, depth: number, ancestors: Set<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, read] of entries.slice(0, MAX_ITEMS)) {
    const item = isSecretKey(key) ? REDACTED : copyRedacted(readSafely(read), depth + 1, ancestors);
    // defineProperty, because a key named "__proto__" (JSON.parse makes those) would
    // otherwise set the copy's prototype instead of being kept as data.
    if (item !== undefined) Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
  }
  if (entries.length > MAX_ITEMS) out['…'] = `${entries.length - MAX_ITEMS} more keys`;
  return out;
}

/** A throwing getter or toJSON must not stop the event from being recorded. */
function readSafely(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return '[Unreadable]';
  }
}
