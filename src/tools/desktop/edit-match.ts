/**
 * The pure half of edit_block: exact occurrences, line diffs and the search for the
 * regions of a file that most resemble a text that did not match. Nothing here
 * decides to change a file; a near match is only ever reported, never applied.
 */
import { lineEndingOf, withLineEnding } from './text-file.js';

// ---------------------------------------------------------------------------
// Exact occurrences

/** Start indices of the non-overlapping occurrences of `needle`, left to right (as replaceAll finds them). */
export function occurrences(haystack: string, needle: string): number[] {
  if (needle === '') throw new RangeError('cannot count occurrences of an empty text');
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) found.push(at);
  return found;
}

// ---------------------------------------------------------------------------
// Myers' O((N+M)D) difference algorithm

export type DiffOp = '=' | '-' | '+';

/**
 * The shortest edit script turning `a` into `b` ('=' keep, '-' delete from a,
 * '+' insert from b), or null when it needs more than `maxEdits` edits. Memory
 * grows with D², which is why callers bound D.
 */
export function diffSequences<T>(a: readonly T[], b: readonly T[], maxEdits: number = Number.POSITIVE_INFINITY): DiffOp[] | null {
  // trace[d] holds V for diagonals -d..d as they were after step d.
  const trace: Int32Array[] = [];
  const edits = forwardPass(a, b, maxEdits, (v, offset, d) => trace.push(v.slice(offset - d, offset + d + 1)));
  return edits === null ? null : backtrack(trace, a.length, b.length);
}

/**
 * Myers' forward pass: the number of edits, or null past `maxEdits`. `afterStep` sees
 * V after each step (including the last), for callers that need the script back.
 */
function forwardPass<T>(a: readonly T[] | string, b: readonly T[] | string, maxEdits: number, afterStep?: (v: Int32Array, offset: number, d: number) => void): number | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        afterStep?.(v, offset, d);
        return d;
      }
    }
    afterStep?.(v, offset, d);
  }
  return null;
}

function backtrack(trace: readonly Int32Array[], n: number, m: number): DiffOp[] {
  const ops: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const previous = trace[d - 1]!;
    const at = (k: number): number => previous[k + d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push('=');
      x--;
      y--;
    }
    ops.push(down ? '+' : '-');
    if (down) y--;
    else x--;
  }
  while (x > 0 && y > 0) {
    ops.push('=');
    x--;
    y--;
  }
  return ops.reverse();
}

/**
 * The edit distance counting insertions and deletions only (so 1 - D/(N+M) is the
 * share of characters the two texts have in common), or null past `maxEdits`.
 * Linear memory: only the distance is needed, not the script.
 */
export function editDistance<T>(a: readonly T[] | string, b: readonly T[] | string, maxEdits: number = Number.POSITIVE_INFINITY): number | null {
  return forwardPass(a, b, maxEdits);
}

// ---------------------------------------------------------------------------
// Unified diffs

export interface UnifiedDiffOptions {
  /** Lines of unchanged context around each change. */
  context?: number;
  fromName?: string;
  toName?: string;
  /** 1-based number of a's first line in the file (for a diff of an excerpt). */
  fromStart?: number;
  toStart?: number;
  /** Beyond this many edits the changed middle is shown as removed and re-added whole. */
  maxEdits?: number;
}

/** Splits text into lines for a diff; a final line break does not make an empty last line. */
export function diffLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * A unified diff of two line lists (`diff -u` format, without the "no newline"
 * markers). Common leading and trailing lines are set aside first, so one small edit
 * in a large file costs little; an empty string means no difference.
 */
export function unifiedDiff(a: readonly string[], b: readonly string[], options: UnifiedDiffOptions = {}): string {
  const context = options.context ?? 3;
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  if (head === a.length && head === b.length) return '';
  const middleA = a.slice(head, a.length - tail);
  const middleB = b.slice(head, b.length - tail);
  const middle = diffSequences(middleA, middleB, options.maxEdits ?? 4000) ?? [
    ...middleA.map((): DiffOp => '-'),
    ...middleB.map((): DiffOp => '+'),
  ];
  const ops: DiffOp[] = [...Array<DiffOp>(head).fill('='), ...middle, ...Array<DiffOp>(tail).fill('=')];
  return formatHunks(a, b, ops, context, options);
}

function formatHunks(a: readonly string[], b: readonly string[], ops: readonly DiffOp[], context: number, options: UnifiedDiffOptions): string {
  // Positions in a and b before each op.
  const positions: { x: number; y: number }[] = [];
  let x = 0;
  let y = 0;
  for (const op of ops) {
    positions.push({ x, y });
    if (op !== '+') x++;
    if (op !== '-') y++;
  }
  const lines = [`--- ${options.fromName ?? 'a'}`, `+++ ${options.toName ?? 'b'}`];
  const fromStart = options.fromStart ?? 1;
  const toStart = options.toStart ?? 1;
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && ops[i] === '=') i++;
    if (i === ops.length) break;
    // A hunk: from `context` lines before this change to `context` after the last change within 2·context of the next.
    const begin = Math.max(0, i - context);
    let end = i;
    for (let j = i; j < ops.length; j++) {
      if (ops[j] !== '=') end = j;
      else if (j - end > 2 * context) break;
    }
    const stop = Math.min(ops.length, end + 1 + context);
    const body: string[] = [];
    let fromCount = 0;
    let toCount = 0;
    for (let j = begin; j < stop; j++) {
      const op = ops[j]!;
      const at = positions[j]!;
      if (op === '=') {
        body.push(` ${display(a[at.x]!)}`);
        fromCount++;
        toCount++;
      } else if (op === '-') {
        body.push(`-${display(a[at.x]!)}`);
        fromCount++;
      } else {
        body.push(`+${display(b[at.y]!)}`);
        toCount++;
      }
    }
    const first = positions[begin]!;
    // diff -u numbers an empty side by the line before it.
    const fromLine = fromCount === 0 ? first.x + fromStart - 1 : first.x + fromStart;
    const toLine = toCount === 0 ? first.y + toStart - 1 : first.y + toStart;
    lines.push(`@@ -${fromLine},${fromCount} +${toLine},${toCount} @@`, ...body);
    i = stop;
  }
  return `${lines.join('\n')}\n`;
}

/** A CR left by a CRLF line is noise in a diff shown to a model. */
function display(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

// ---------------------------------------------------------------------------
// Near misses

export interface Candidate {
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /** 0..1: the share of characters the region has in common with the text looked for. */
  similarity: number;
  /** The region's text (line breaks as \n). */
  text: string;
  /** The region equals the text looked for once runs of whitespace are ignored. */
  whitespaceOnly: boolean;
}

export interface CandidateOptions {
  /** How many regions to return at most. */
  limit?: number;
  /** Regions less similar than this are not worth showing. */
  minSimilarity?: number;
}

/** Shortlisted regions per returned candidate, measured exactly in the second stage. */
const SHORTLIST_FACTOR = 4;
/**
 * The exact measure works on characters up to this combined length and on lines
 * beyond it: its cost grows with length × distance, and it runs on few regions.
 */
const CHAR_COMPARE_LIMIT = 4000;

/**
 * The regions of `content` most similar to `wanted`, best first. Two stages keep
 * this cheap on large files: a sliding window of wanted's line count is scored by
 * character-bigram overlap (whitespace collapsed, updated in O(1) per bigram as the
 * window moves), then the best windows, widened or narrowed by up to two lines at
 * either end, are ranked the same way and the best few bounds measured exactly by
 * edit distance. Whole lines are compared, so
 * a text that is part of a line is measured against the whole line.
 */
export function findCandidates(content: string, wanted: string, options: CandidateOptions = {}): Candidate[] {
  const limit = options.limit ?? 3;
  const minSimilarity = options.minSimilarity ?? 0.5;
  const fileLines = diffLines(content).map(stripCr);
  const wantedLines = diffLines(wanted).map(stripCr);
  if (fileLines.length === 0 || wantedLines.length === 0) return [];
  const size = Math.min(wantedLines.length, fileLines.length);
  const wantedGrams = gramsOf(wantedLines);
  const shortlist = slidingShortlist(fileLines, wantedGrams, size, limit * SHORTLIST_FACTOR);
  const wantedText = wantedLines.join('\n');
  const measured: Candidate[] = [];
  for (const start of shortlist) {
    const best = refine(fileLines, wantedGrams, wantedText, start, size, minSimilarity);
    if (best !== null) measured.push(best);
  }
  measured.sort((p, q) => q.similarity - p.similarity || p.startLine - q.startLine);
  const chosen: Candidate[] = [];
  for (const candidate of measured) {
    if (chosen.some((c) => candidate.startLine <= c.endLine && c.startLine <= candidate.endLine)) continue;
    chosen.push(candidate);
    if (chosen.length === limit) break;
  }
  return chosen;
}

/** Start lines of the best-scoring windows, not overlapping each other. */
function slidingShortlist(fileLines: readonly string[], wanted: Grams, size: number, count: number): number[] {
  const lineGrams = fileLines.map(bigramsOf);
  const wantedCounts = wanted.counts;
  const wantedTotal = wanted.total;
  const windowCounts = new Map<number, number>();
  let windowTotal = 0;
  let shared = 0;
  const add = (line: number): void => {
    for (const gram of lineGrams[line]!) {
      const have = windowCounts.get(gram) ?? 0;
      if (have < (wantedCounts.get(gram) ?? 0)) shared++;
      windowCounts.set(gram, have + 1);
      windowTotal++;
    }
  };
  const remove = (line: number): void => {
    for (const gram of lineGrams[line]!) {
      const have = windowCounts.get(gram)! - 1;
      windowCounts.set(gram, have);
      if (have < (wantedCounts.get(gram) ?? 0)) shared--;
      windowTotal--;
    }
  };
  const scores: { start: number; score: number }[] = [];
  for (let line = 0; line < size; line++) add(line);
  for (let start = 0; ; start++) {
    const total = wantedTotal + windowTotal;
    scores.push({ start, score: total === 0 ? 0 : (2 * shared) / total });
    if (start + size >= fileLines.length) break;
    remove(start);
    add(start + size);
  }
  scores.sort((p, q) => q.score - p.score || p.start - q.start);
  const picked: number[] = [];
  for (const { start, score } of scores) {
    if (score === 0) break;
    if (picked.some((other) => Math.abs(other - start) < size)) continue;
    picked.push(start);
    if (picked.length === count) break;
  }
  return picked;
}

/** Bounds measured exactly per shortlisted window, after ranking all 25 by bigram overlap. */
const EXACT_BOUNDS = 3;

/**
 * The window at `start` with its ends moved by up to two lines each way: all bounds
 * are ranked by bigram overlap, and the best few are measured exactly.
 */
function refine(fileLines: readonly string[], wanted: Grams, wantedText: string, start: number, size: number, minSimilarity: number): Candidate | null {
  const bounds: { from: number; to: number; score: number }[] = [];
  for (let shiftStart = -2; shiftStart <= 2; shiftStart++) {
    for (let shiftEnd = -2; shiftEnd <= 2; shiftEnd++) {
      const from = start + shiftStart;
      const to = start + size + shiftEnd;
      if (from < 0 || to > fileLines.length || to <= from) continue;
      bounds.push({ from, to, score: dice(wanted, gramsOf(fileLines.slice(from, to))) });
    }
  }
  bounds.sort((p, q) => q.score - p.score || Math.abs(p.to - p.from - size) - Math.abs(q.to - q.from - size));
  // Of bounds about as similar, the one that holds more of the wanted text is the region it was meant for:
  // a file line missing from the text should be inside the candidate, not cut off.
  let best: { from: number; to: number; similarity: number; rank: number } | null = null;
  for (const { from, to } of bounds.slice(0, EXACT_BOUNDS)) {
    const measured = measure(fileLines.slice(from, to).join('\n'), wantedText, minSimilarity);
    if (measured === null) continue;
    const rank = (measured.similarity + measured.recall) / 2;
    if (best === null || rank > best.rank) best = { from, to, similarity: measured.similarity, rank };
  }
  if (best === null) return null;
  const text = fileLines.slice(best.from, best.to).join('\n');
  return {
    startLine: best.from + 1,
    endLine: best.to,
    similarity: best.similarity,
    text,
    whitespaceOnly: collapseWhitespace(text) === collapseWhitespace(wantedText),
  };
}

interface Grams {
  counts: Map<number, number>;
  total: number;
}

function gramsOf(lines: readonly string[]): Grams {
  const counts = new Map<number, number>();
  let total = 0;
  for (const line of lines) {
    for (const gram of bigramsOf(line)) {
      counts.set(gram, (counts.get(gram) ?? 0) + 1);
      total++;
    }
  }
  return { counts, total };
}

/** Sørensen–Dice coefficient of two bigram multisets. */
function dice(a: Grams, b: Grams): number {
  if (a.total + b.total === 0) return 1;
  let shared = 0;
  for (const [gram, count] of a.counts) shared += Math.min(count, b.counts.get(gram) ?? 0);
  return (2 * shared) / (a.total + b.total);
}

/**
 * 1 - D/(N+M) over characters (over lines for long texts), or null when it is below
 * `floor`: the distance is then cut off early, which is what keeps a poor candidate
 * cheap.
 */
export function similarityOf(a: string, b: string, floor = 0): number | null {
  return measure(a, b, floor)?.similarity ?? null;
}

/** The similarity of `region` to `wanted`, and the share of `wanted` found in it (recall). */
function measure(region: string, wanted: string, floor: number): { similarity: number; recall: number } | null {
  const byChars = region.length + wanted.length <= CHAR_COMPARE_LIMIT;
  const left = byChars ? region : region.split('\n');
  const right = byChars ? wanted : wanted.split('\n');
  const total = left.length + right.length;
  if (total === 0) return { similarity: 1, recall: 1 };
  const distance = editDistance<string>(left, right, Math.floor((1 - floor) * total));
  if (distance === null) return null;
  const common = (total - distance) / 2;
  return { similarity: 1 - distance / total, recall: right.length === 0 ? 1 : common / right.length };
}

function bigramsOf(line: string): number[] {
  const text = `${collapseWhitespace(line)}\n`;
  const grams: number[] = [];
  for (let i = 0; i + 1 < text.length; i++) grams.push(text.charCodeAt(i) * 65536 + text.charCodeAt(i + 1));
  return grams;
}

function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

// ---------------------------------------------------------------------------
// Planning an exact edit

export interface EditPlan {
  /** The text searched for and its replacement, in the file's line ending style when that decided the match. */
  oldText: string;
  newText: string;
  /** Where the occurrences start in the content. */
  positions: number[];
  /** The file's line endings were applied to oldText and newText. */
  lineEndingsAdapted: boolean;
}

/**
 * Finds the exact occurrences of `oldText`, reading its line breaks in the file's
 * own style: in a CRLF file "\n" in oldText and newText means "\r\n", in an LF file
 * "\r\n" means "\n", so a model that writes LF can edit a CRLF file without either
 * failing to match or leaving mixed line endings behind. A file that already mixes
 * both is matched as given first, then in each style, and newText follows the form
 * that matched. Nothing else is relaxed: every other character must match exactly.
 */
export function planEdit(content: string, oldText: string, newText: string): EditPlan {
  const ending = lineEndingOf(content);
  if (ending === 'crlf' || ending === 'lf') {
    const adaptedOld = withLineEnding(oldText, ending);
    const adaptedNew = withLineEnding(newText, ending);
    return {
      oldText: adaptedOld,
      newText: adaptedNew,
      positions: occurrences(content, adaptedOld),
      lineEndingsAdapted: adaptedOld !== oldText || adaptedNew !== newText,
    };
  }
  const forms: { oldText: string; newText: string }[] = [{ oldText, newText }];
  if (ending === 'mixed') {
    for (const style of ['crlf', 'lf'] as const) forms.push({ oldText: withLineEnding(oldText, style), newText: withLineEnding(newText, style) });
  }
  for (const form of forms) {
    const positions = occurrences(content, form.oldText);
    if (positions.length > 0) return { ...form, positions, lineEndingsAdapted: form.oldText !== oldText || form.newText !== newText };
  }
  return { oldText, newText, positions: [], lineEndingsAdapted: false };
}

/** The content with every planned occurrence replaced (the replacement taken literally, no `$&` patterns). */
export function applyPlan(content: string, plan: EditPlan): string {
  return content.split(plan.oldText).join(plan.newText);
}

/** 1-based line numbers of ascending character positions, in one pass. */
export function lineNumbersOf(text: string, positions: readonly number[]): number[] {
  const lines: number[] = [];
  let line = 1;
  let scanned = 0;
  for (const position of positions) {
    for (let i = text.indexOf('\n', scanned); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) {
      line++;
      scanned = i + 1;
    }
    lines.push(line);
  }
  return lines;
}
