import { describe, expect, it } from 'vitest';
import { MAX_REDACTED_BYTES, REDACTED, isSecretKey, redact } from './redact.js';

const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLWJ5dGVz';
const apiKey = 'ironcode_key01H8XYZ_0123456789abcdefghijklmnopqrstuv';

describe('redact', () => {
  const cases: Array<[string, unknown, unknown]> = [
    ['keeps ordinary values', { user: 'alice', count: 3, ok: true, none: null }, { user: 'alice', count: 3, ok: true, none: null }],
    ['password key', { password: 'hunter2' }, { password: REDACTED }],
    ['pass key', { pass: 'x' }, { pass: REDACTED }],
    ['newPassword key, any case', { NewPassWord: 'x' }, { NewPassWord: REDACTED }],
    ['secret key', { clientSecret: 'x' }, { clientSecret: REDACTED }],
    ['token key', { refresh_token: 'x' }, { refresh_token: REDACTED }],
    ['api key variants', { apiKey: 1, 'api-key': 2, api_key: 3, APIKEY: 4 }, { apiKey: REDACTED, 'api-key': REDACTED, api_key: REDACTED, APIKEY: REDACTED }],
    ['authorization header', { headers: { Authorization: 'Basic dXNlcjpwYXNz', accept: '*/*' } }, { headers: { Authorization: REDACTED, accept: '*/*' } }],
    ['cookies', { cookie: 'a=b', 'set-cookie': ['c=d'] }, { cookie: REDACTED, 'set-cookie': REDACTED }],
    ['totp, otp, recovery codes', { totp: '123456', otp: '654321', recoveryCodes: ['a', 'b'] }, { totp: REDACTED, otp: REDACTED, recoveryCodes: REDACTED }],
    ['private keys and credentials', { privateKey: { d: 'x' }, credentials: { user: 'u' } }, { privateKey: REDACTED, credentials: REDACTED }],
    ['nested deep in arrays', { steps: [{ env: { DB_PASSWORD: 'x', HOME: '/root' } }] }, { steps: [{ env: { DB_PASSWORD: REDACTED, HOME: '/root' } }] }],
    ['an API key value under an innocent key', { note: apiKey }, { note: REDACTED }],
    ['any string starting ironcode_', ['ironcode_short'], [REDACTED]],
    ['a JWT value', { value: jwt }, { value: REDACTED }],
    ['a bearer value', { header: 'Bearer abc.def-ghi' }, { header: REDACTED }],
    ['a bearer inside a command line', { line: 'curl -H "Authorization: Bearer abc123" https://x' }, { line: `curl -H "Authorization: ${REDACTED}" https://x` }],
    ['a JWT inside text', { text: `token was ${jwt} today` }, { text: `token was ${REDACTED} today` }],
    ['an API key inside text', { argv: ['curl', `-Hx-key:${apiKey}`] }, { argv: ['curl', `-Hx-key:${REDACTED}`] }],
    ['a URL password', { url: 'postgres://app:s3cr3t@db:5432/app' }, { url: `postgres://app:${REDACTED}@db:5432/app` }],
    ['well-known token formats', ['ghp_' + 'a'.repeat(36), 'AKIA' + 'A'.repeat(16)], [REDACTED, REDACTED]],
    ['a PEM private key', { pem: '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n' }, { pem: `${REDACTED}\n` }],
    ['top-level undefined', undefined, null],
    ['non-JSON numbers', [Number.NaN, Infinity, -0], [null, null, 0]],
    ['bigint, dates, binary', { n: 10n, at: new Date(0), buf: Buffer.from('abc') }, { n: '10', at: '1970-01-01T00:00:00.000Z', buf: '[binary: 3 bytes]' }],
    ['functions and symbols dropped like JSON', { f: () => 1, s: Symbol('x'), list: [undefined, () => 1] }, { list: [null, null] }],
    ['maps and sets', { m: new Map<string, unknown>([['token', 'x'], ['a', 1]]), s: new Set([1, 2]) }, { m: { token: REDACTED, a: 1 }, s: [1, 2] }],
    ['errors keep name and message', { error: new TypeError('bad Bearer xyz') }, { error: { name: 'TypeError', message: `bad ${REDACTED}` } }],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(redact(input)).toEqual(expected);
  });

  it('does not change its input', () => {
    const input = { password: 'x', nested: { token: 'y' } };
    redact(input);
    expect(input).toEqual({ password: 'x', nested: { token: 'y' } });
  });

  it('survives cycles, hostile getters and deep nesting', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const hostile = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 50; i++) deep = { deeper: deep };
    const out = redact({ cyclic, hostile, deep }) as Record<string, unknown>;
    expect(out.cyclic).toEqual({ name: 'a', self: '[Circular]' });
    expect(out.hostile).toEqual({ boom: '[Unreadable]' });
    expect(JSON.stringify(out.deep)).toContain('[Truncated: nested too deep]');
  });

  it('keeps "__proto__" as data, not as a prototype', () => {
    const out = redact(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('replaces a document over 8 KiB by a valid preview', () => {
    const big = { items: Array.from({ length: 200 }, (_, i) => ({ i, text: 'é'.repeat(40), secret: 'never' })) };
    const out = redact(big) as { truncated: boolean; bytes: number; preview: string };
    expect(out.truncated).toBe(true);
    expect(out.bytes).toBeGreaterThan(MAX_REDACTED_BYTES);
    expect(out.preview.length).toBe(512);
    expect(out.preview.startsWith('{"items":[{"i":0,')).toBe(true);
    expect(out.preview).not.toContain('never');
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('keeps a document of exactly 8 KiB whole', () => {
    const filler = 'x'.repeat(MAX_REDACTED_BYTES - JSON.stringify({ a: '' }).length);
    expect(redact({ a: filler })).toEqual({ a: filler });
    expect(redact({ a: `${filler}x` })).toMatchObject({ truncated: true, bytes: MAX_REDACTED_BYTES + 1 });
  });

  it('bounds the work on huge strings and arrays', () => {
    const out = redact({ s: 'a'.repeat(5_000_000), list: new Array(1_000_000).fill(1) }) as { bytes: number };
    expect(out).toMatchObject({ truncated: true });
    expect(out.bytes).toBeLessThan(20_000);
  });
});

describe('isSecretKey', () => {
  it.each([
    ['password', true],
    ['newPassword', true],
    ['current_password', true],
    ['clientSecret', true],
    ['access_token', true],
    ['refreshToken', true],
    ['apiKey', true],
    ['API_KEY', true],
    ['privateKey', true],
    ['key', true],
    ['Set-Cookie', true],
    ['authorization', true],
    ['totp', true],
    ['recoveryCodes', true],
    ['inputTokens', false],
    ['outputTokens', false],
    ['keyId', false],
    ['keys', false],
    ['bypass', false],
    ['footprint', false],
    ['exitCode', false],
    ['statusCode', false],
    ['username', false],
  ] as const)('%s → %s', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });
});
