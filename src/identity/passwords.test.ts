import { describe, expect, it } from 'vitest';
import { PASSWORD_MAX_LENGTH, hashPassword, passwordProblems, spendPasswordCheck, verifyPassword } from './passwords.js';

const GOOD = 'violet-harbour-lantern-42';

describe('password hashing', () => {
  it('verifies the password it hashed', async () => {
    const hash = await hashPassword(GOOD);
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(hash).not.toContain(GOOD);
    expect(await verifyPassword(GOOD, hash)).toBe(true);
  });

  it('salts per hash: the same password hashes differently each time', async () => {
    const [first, second] = await Promise.all([hashPassword(GOOD), hashPassword(GOOD)]);
    expect(first).not.toBe(second);
    expect(first.split('$')[4]).not.toBe(second.split('$')[4]);
    expect(await verifyPassword(GOOD, first)).toBe(true);
    expect(await verifyPassword(GOOD, second)).toBe(true);
  });

  it('refuses a wrong password, including near misses', async () => {
    const hash = await hashPassword(GOOD);
    for (const attempt of ['violet-harbour-lantern-43', 'Violet-harbour-lantern-42', `${GOOD} `, GOOD.slice(0, -1), '']) {
      expect(await verifyPassword(attempt, hash), attempt).toBe(false);
    }
  });

  it('treats canonically equivalent Unicode as the same password (NFKC)', async () => {
    const composed = 'caf\u00e9-mountain-river';
    const decomposed = 'cafe\u0301-mountain-river';
    expect(composed).not.toBe(decomposed);
    expect(await verifyPassword(decomposed, await hashPassword(composed))).toBe(true);
  });

  it('keeps verifying hashes made with other stored parameters', async () => {
    // A hash written with cheaper parameters (as an older release might have) still verifies.
    const hash = await hashPassword(GOOD);
    const [, , , , salt] = hash.split('$');
    const { scryptSync } = await import('node:crypto');
    const key = scryptSync(GOOD.normalize('NFKC'), Buffer.from(salt ?? '', 'base64'), 32, { N: 2 ** 14, r: 8, p: 1 });
    const older = `scrypt$${2 ** 14}$8$1$${salt}$${key.toString('base64')}`;
    expect(await verifyPassword(GOOD, older)).toBe(true);
    expect(await verifyPassword('something-else-entirely', older)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['another scheme', 'bcrypt$2b$12$abcdefghijklmnopqrstuv'],
    ['too few fields', 'scrypt$32768$8$1$c2FsdA=='],
    ['non-numeric cost', 'scrypt$lots$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U='],
    ['cost not a power of two', 'scrypt$30000$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U='],
    ['absurd cost', `scrypt$${2 ** 30}$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=`],
    ['zero block size', 'scrypt$32768$0$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U='],
    ['empty salt and key', 'scrypt$32768$8$1$$'],
    ['a key of the wrong length', 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5'],
    ['extra fields', 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=$more'],
  ])('returns false, without throwing, for a malformed hash: %s', async (_name, encoded) => {
    await expect(verifyPassword(GOOD, encoded)).resolves.toBe(false);
  });

  it('spends a password check for unknown users without failing', async () => {
    await expect(spendPasswordCheck('anything at all')).resolves.toBeUndefined();
  });
});

describe('the password policy', () => {
  const MIN = 12;

  it('accepts a long, varied password', () => {
    expect(passwordProblems(GOOD, 'alice', MIN)).toEqual([]);
    expect(passwordProblems('abcdEFGH1234', 'bob', MIN)).toEqual([]);
  });

  it.each([
    // name, password, username, min length, expected problems (substrings, in order)
    ['too short', 'ab1!Cd', 'alice', MIN, ['at least 12 characters (has 6)']],
    ['one short of the minimum', 'abcdefghijk', 'alice', MIN, ['at least 12 characters (has 11)']],
    ['exactly the minimum', 'abcdefghijkm', 'alice', MIN, []],
    ['a higher configured minimum', 'abcdefghijkm', 'alice', 16, ['at least 16 characters (has 12)']],
    ['one repeated character', 'aaaaaaaaaaaaaaaa', 'alice', MIN, ['at least 5 different characters']],
    ['four characters repeated', 'abcdabcdabcdabcd', 'alice', MIN, ['at least 5 different characters']],
    ['five different characters', 'abcdeabcdeabcde', 'alice', MIN, []],
    ['contains the username', 'xx-alice-xx-2024', 'alice', MIN, ['must not contain the username']],
    ['contains the username in other case', 'xx-ALICE-xx-2024', 'alice', MIN, ['must not contain the username']],
    ['a short username is not searched for', 'xx-al-long-enough', 'al', MIN, []],
    ['on the weak list', 'password1234', 'alice', MIN, ['commonly used']],
    ['on the weak list in other case', 'PassWord1234', 'alice', MIN, ['commonly used']],
    ['on the weak list, longer entry', 'correcthorsebatterystaple', 'alice', MIN, ['commonly used']],
    ['weak list compares the whole password', 'password1234-and-more', 'alice', MIN, []],
    ['at the maximum length', 'abcdefghij'.repeat(PASSWORD_MAX_LENGTH / 2).slice(0, PASSWORD_MAX_LENGTH), 'alice', MIN, []],
    ['over the maximum length', 'abcdefghij'.repeat(30).slice(0, PASSWORD_MAX_LENGTH + 1), 'alice', MIN, [`at most ${PASSWORD_MAX_LENGTH} characters`]],
    ['several problems at once', 'admin', 'admin', MIN, ['at least 12 characters (has 5)', 'must not contain the username']],
    ['short and repetitive', 'aaa', 'alice', MIN, ['at least 12 characters (has 3)', 'at least 5 different characters']],
  ])('%s', (_name, password, username, min, expected) => {
    const problems = passwordProblems(password, username, min);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((fragment, i) => expect(problems[i]).toContain(fragment));
  });

  describe('counts characters, not UTF-16 code units', () => {
    it('accepts 12 astral-plane characters (24 code units) at a minimum of 12', () => {
      const emoji = '🍎🍐🍊🍋🍌🍉🍇🍓🫐🍈🍒🍑';
      expect(emoji.length).toBe(24);
      expect(passwordProblems(emoji, 'alice', MIN)).toEqual([]);
    });

    it('refuses 11 astral-plane characters (22 code units) and says 11', () => {
      const emoji = '🍎🍐🍊🍋🍌🍉🍇🍓🫐🍈🍒';
      expect(emoji.length).toBe(22);
      const problems = passwordProblems(emoji, 'alice', MIN);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('has 11');
    });

    it('counts distinct characters by code point: one emoji repeated is one character', () => {
      expect(passwordProblems('🍎'.repeat(12), 'alice', MIN)).toEqual([expect.stringContaining('at least 5 different characters')]);
    });

    it('applies the maximum in characters', () => {
      expect(passwordProblems('🍎🍐🍊🍋🍌'.repeat(PASSWORD_MAX_LENGTH / 5 + 1).slice(0, PASSWORD_MAX_LENGTH * 2), 'alice', MIN)).toEqual([]);
      expect(passwordProblems('🍎🍐🍊🍋🍌'.repeat(60), 'alice', MIN)).toEqual([expect.stringContaining(`at most ${PASSWORD_MAX_LENGTH}`)]);
    });

    it('accepts non-Latin scripts', () => {
      expect(passwordProblems('пароль-для-входа', 'alice', MIN)).toEqual([]);
    });
  });
});
