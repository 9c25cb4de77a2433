import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyPlan,
  diffLines,
  diffSequences,
  editDistance,
  findCandidates,
  lineNumbersOf,
  occurrences,
  planEdit,
  similarityOf,
  unifiedDiff,
  type DiffOp,
} from './edit-match.js';

/** Replays an edit script: the kept and inserted elements must give b, the kept and deleted ones a. */
function replay<T>(a: readonly T[], b: readonly T[], ops: readonly DiffOp[]): { fromA: T[]; toB: T[] } {
  const fromA: T[] = [];
  const toB: T[] = [];
  let x = 0;
  let y = 0;
  for (const op of ops) {
    if (op === '=') {
      expect(a[x]).toBe(b[y]);
      fromA.push(a[x++]!);
      toB.push(b[y++]!);
    } else if (op === '-') fromA.push(a[x++]!);
    else toB.push(b[y++]!);
  }
  return { fromA, toB };
}

/** Length of the longest common subsequence, by dynamic programming (the reference). */
function lcs<T>(a: readonly T[], b: readonly T[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    let diagonal = 0;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = x === b[j - 1] ? diagonal + 1 : Math.max(row[j]!, row[j - 1]!);
      diagonal = above;
    }
  }
  return row[b.length]!;
}

describe('occurrences', () => {
  it.each([
    ['abcabc', 'abc', [0, 3]],
    ['aaaa', 'aa', [0, 2]],
    ['abc', 'x', []],
    ['a\r\nb', '\r\n', [1]],
  ])('%j in %j', (haystack, needle, expected) => {
    expect(occurrences(haystack, needle)).toEqual(expected);
  });

  it('refuses an empty text', () => {
    expect(() => occurrences('abc', '')).toThrow(RangeError);
  });

  it('numbers the lines of positions', () => {
    const text = 'a\nb\nc x\nd x\n';
    expect(lineNumbersOf(text, occurrences(text, 'x'))).toEqual([3, 4]);
    expect(lineNumbersOf(text, [0, 0, 2])).toEqual([1, 1, 2]);
  });
});

describe('diffSequences (Myers)', () => {
  it('finds a shortest edit script (checked against LCS by dynamic programming)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 30 }), (a, b) => {
        const ops = diffSequences(a, b)!;
        const { fromA, toB } = replay(a, b, ops);
        expect(fromA).toEqual(a);
        expect(toB).toEqual(b);
        const edits = ops.filter((op) => op !== '=').length;
        expect(edits).toBe(a.length + b.length - 2 * lcs(a, b));
        expect(editDistance(a, b)).toBe(edits);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    [[], []],
    [['a'], []],
    [[], ['a']],
    [['a', 'b'], ['a', 'b']],
  ])('handles %j → %j', (a, b) => {
    const { fromA, toB } = replay(a, b, diffSequences(a, b)!);
    expect(fromA).toEqual(a);
    expect(toB).toEqual(b);
  });

  it('gives up past maxEdits', () => {
    expect(diffSequences(['a', 'b', 'c'], ['x', 'y', 'z'], 2)).toBeNull();
    expect(editDistance('abc', 'xyz', 2)).toBeNull();
    expect(editDistance('abc', 'abd', 2)).toBe(2);
  });
});

describe('unifiedDiff', () => {
  it('writes diff -u hunks with context', () => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'];
    const b = ['1', '2', '3', '4', 'five', '6', '7', '8', '9', '10'];
    expect(unifiedDiff(a, b, { context: 2, fromName: 'x', toName: 'x' })).toBe(['--- x', '+++ x', '@@ -3,5 +3,5 @@', ' 3', ' 4', '-5', '+five', ' 6', ' 7', ''].join('\n'));
  });

  it('keeps far-apart changes in separate hunks and close ones together', () => {
    const a = Array.from({ length: 30 }, (_, i) => `${i + 1}`);
    const far = a.map((line) => (line === '3' || line === '25' ? `${line}!` : line));
    expect(unifiedDiff(a, far, { context: 2 }).match(/^@@/gm)).toHaveLength(2);
    const near = a.map((line) => (line === '3' || line === '6' ? `${line}!` : line));
    expect(unifiedDiff(a, near, { context: 2 }).match(/^@@/gm)).toHaveLength(1);
  });

  it('numbers pure insertions and deletions like diff -u', () => {
    expect(unifiedDiff([], ['a'], { context: 0 })).toContain('@@ -0,0 +1,1 @@');
    expect(unifiedDiff(['a', 'b'], ['a'], { context: 0 })).toContain('@@ -2,1 +1,0 @@');
  });

  it('is empty without a difference and shows CRLF lines without the CR', () => {
    expect(unifiedDiff(['a'], ['a'])).toBe('');
    expect(unifiedDiff(diffLines('a\r\nb\r\n'), diffLines('a\r\nc\r\n'))).toContain('-b\n+c\n');
  });

  it('offsets line numbers of an excerpt', () => {
    expect(unifiedDiff(['x'], ['y'], { fromStart: 1, toStart: 40 })).toContain('@@ -1,1 +40,1 @@');
  });

  it('still describes a change too large to diff minimally', () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 50 }, (_, i) => `b${i}`);
    const diff = unifiedDiff(a, b, { maxEdits: 10, context: 0 });
    expect(diff.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'))).toHaveLength(50);
    expect(diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'))).toHaveLength(50);
  });
});

describe('planEdit', () => {
  it.each([
    // [name, content, oldText, newText, expected content after, adapted]
    ['LF file, LF text', 'a\nb\nc\n', 'b\n', 'B\n', 'a\nB\nc\n', false],
    ['CRLF file, LF text: matched and written as CRLF', 'a\r\nb\r\nc\r\n', 'a\nb\n', 'x\ny\nz\n', 'x\r\ny\r\nz\r\nc\r\n', true],
    ['CRLF file, CRLF text', 'a\r\nb\r\n', 'b\r\n', 'B\r\n', 'a\r\nB\r\n', false],
    ['CRLF file, one-line text with a new line break in newText', 'a\r\nb\r\n', 'b', 'b\nb2', 'a\r\nb\r\nb2\r\n', true],
    ['LF file, CRLF text', 'a\nb\n', 'a\r\nb', 'x\r\ny', 'x\ny\n', true],
    ['mixed file, matched as given', 'a\r\nb\nc\n', 'b\nc', 'B\nC', 'a\r\nB\nC\n', false],
    ['mixed file, matched in CRLF form', 'a\r\nb\r\nc\n', 'a\nb', 'A\nB', 'A\r\nB\r\nc\n', true],
    ['a lone CR is an ordinary character', 'a\rb\n', 'a\rb', 'ab', 'ab\n', false],
  ])('%s', (_name, content, oldText, newText, after, adapted) => {
    const plan = planEdit(content, oldText, newText);
    expect(plan.positions).toHaveLength(1);
    expect(applyPlan(content, plan)).toBe(after);
    expect(plan.lineEndingsAdapted).toBe(adapted);
  });

  it('takes the replacement literally', () => {
    const plan = planEdit('x = 1', '1', '$& $1 $$');
    expect(applyPlan('x = 1', plan)).toBe('x = $& $1 $$');
  });

  it('finds nothing rather than something close', () => {
    expect(planEdit('function f() {}\n', 'function  f() {}', 'g').positions).toEqual([]);
  });
});

describe('findCandidates', () => {
  const file = [
    'import x from "x";',
    '',
    'export function alpha(a: number): number {',
    '  const doubled = a * 2;',
    '  return doubled + 1;',
    '}',
    '',
    'export function beta(b: string): string {',
    '  return b.toUpperCase();',
    '}',
    '',
  ].join('\n');

  it('finds the region a slightly wrong text was meant for, with its line numbers', () => {
    const wanted = 'export function alpha(a: number): number {\n  const doubled = a * 3;\n  return doubled + 1;\n}';
    const [best] = findCandidates(file, wanted);
    expect(best).toMatchObject({ startLine: 3, endLine: 6, whitespaceOnly: false });
    expect(best!.similarity).toBeGreaterThan(0.9);
    expect(best!.similarity).toBeLessThan(1);
  });

  it('says when only whitespace differs', () => {
    const wanted = 'export function beta(b: string): string {\n    return b.toUpperCase();\n}';
    const [best] = findCandidates(file, wanted);
    expect(best).toMatchObject({ startLine: 8, endLine: 10, whitespaceOnly: true });
  });

  it('finds a one-line near miss', () => {
    const [best] = findCandidates(file, '  return b.toLowerCase();');
    expect(best).toMatchObject({ startLine: 9, endLine: 9 });
  });

  it('returns nothing when no region is similar enough', () => {
    expect(findCandidates(file, 'SELECT * FROM users WHERE id = 42 ORDER BY created_at DESC')).toEqual([]);
  });

  it('returns up to `limit` regions that do not overlap, best first', () => {
    const repeated = Array.from({ length: 5 }, (_, i) => `function f${i}() {\n  return ${i};\n}\n`).join('\n');
    const found = findCandidates(repeated, 'function f9() {\n  return 9;\n}', { limit: 3 });
    expect(found).toHaveLength(3);
    for (let i = 1; i < found.length; i++) expect(found[i]!.similarity).toBeLessThanOrEqual(found[i - 1]!.similarity);
    const spans = found.map((c) => [c.startLine, c.endLine] as const);
    for (const [i, [s1, e1]] of spans.entries()) for (const [s2, e2] of spans.slice(i + 1)) expect(e1 < s2 || e2 < s1).toBe(true);
  });

  it('widens the window when the file has a line more than the text', () => {
    const text = ['  const total = items.length;', '  const first = items[0];', '  log.debug({ total }, "counted");', '  return first ?? null;'].join('\n');
    const [best] = findCandidates(`function pick(items) {\n${text}\n}\n`, '  const total = items.length;\n  const first = items[0];\n  return first ?? null;');
    expect(best).toMatchObject({ startLine: 2, endLine: 5 });
  });

  it('stays fast on a large file', () => {
    const big = Array.from({ length: 40_000 }, (_, i) => `const value${i} = compute(${i}, "${'x'.repeat(i % 30)}");`).join('\n');
    const started = performance.now();
    const [best] = findCandidates(big, 'const value31415 = compute(31415, "xxxxx");\nconst value31416 = compute(31416, "xxxxxxx");');
    expect(best?.startLine).toBe(31416);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('similarityOf', () => {
  it('is the share of characters in common', () => {
    expect(similarityOf('abcd', 'abcd')).toBe(1);
    expect(similarityOf('abcd', 'abxd')).toBe(0.75);
    expect(similarityOf('', '')).toBe(1);
  });

  it('gives up below the floor', () => {
    expect(similarityOf('abcd', 'wxyz', 0.5)).toBeNull();
  });
});
