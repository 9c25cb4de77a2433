/**
 * edit_block: exact search and replace in one file. The edit happens only when the
 * text occurs exactly as often as the caller expected; otherwise nothing is written
 * and the error says what was found instead, with the closest regions of the file
 * and a diff against the best of them, so a model can correct its oldText. A near
 * match is never applied: guessing which text was meant is how files get corrupted.
 */
import { z } from 'zod';
import { IronError, ValidationError } from '../../core/index.js';
import { anyTool, defineTool } from '../tool.js';
import { applyPlan, diffLines, findCandidates, lineNumbersOf, planEdit, unifiedDiff, type Candidate, type EditPlan } from './edit-match.js';
import { looksBinary } from './text-file.js';

/** The largest file edit_block edits (it holds the file, the result and a diff in memory). */
export const EDIT_MAX_BYTES = 32 * 1024 * 1024;
/** Near matches are looked for in files up to this size; beyond it the search would cost more than it helps. */
export const CANDIDATE_SEARCH_MAX_BYTES = 2 * 1024 * 1024;
/** A diff longer than this is cut: it is there to confirm the change, not to replay it. */
const MAX_DIFF_CHARS = 32 * 1024;
const DIFF_CONTEXT = 2;
/** Occurrence line numbers listed in a count mismatch. */
const MAX_LISTED_LINES = 20;

export const editBlock = defineTool('desktop', {
  name: 'edit_block',
  title: 'Edit a block of text in a file',
  description: 'Replace an exact block of text in a file. Fails without writing, and shows the closest matches, when the text is not found exactly as often as expected.',
  usage: [
    'Finds oldText in the file exactly (every character, including indentation) and replaces it with newText.',
    'It writes only when oldText occurs exactly expectedReplacements times (default 1), replacing all of them;',
    'the result includes a unified diff of the change. Otherwise nothing is written and the error says how many',
    'occurrences were found and where; when there are none, it shows the 1–3 most similar regions of the file',
    '(line numbers and similarity) and a diff between oldText and the best of them. Copy the exact text from the',
    'file and try again; near matches are never applied. Include enough surrounding lines to make oldText unique.',
    'Line endings: in a file with CRLF line endings, \\n in oldText and newText stands for \\r\\n (and in an LF file',
    '\\r\\n for \\n), so the file keeps one style. The file is written atomically and keeps its permissions.',
  ].join(' '),
  input: z.strictObject({
    path: z.string().min(1).describe('The file to edit.'),
    oldText: z.string().min(1, 'oldText must not be empty: give the exact text to replace').describe('The exact text to find.'),
    newText: z.string().describe('What to put in its place (may be empty to delete oldText).'),
    expectedReplacements: z.number().int().min(1).max(10_000).optional().describe('How many occurrences to replace; the edit fails unless exactly this many are found (default 1).'),
  }),
  output: z.object({
    path: z.string(),
    replacements: z.number().int(),
    /** A unified diff of the change (cut when very long). */
    diff: z.string(),
    /** The file's line endings were applied to oldText and newText. */
    lineEndingsAdapted: z.boolean(),
  }),
  risk: 'write',
  hints: { destructive: true, idempotent: false },
  async run(ctx, input) {
    if (input.oldText === input.newText) {
      throw new ValidationError('oldText and newText are the same; there is nothing to change', [{ path: 'newText', message: 'equals oldText' }]);
    }
    const expected = input.expectedReplacements ?? 1;
    const file = await ctx.fs.readFile(input.path, { maxBytes: EDIT_MAX_BYTES });
    if (file.truncated) {
      throw new IronError('payloadTooLarge', `${file.path} is ${file.size} bytes; edit_block edits files up to ${EDIT_MAX_BYTES} bytes`, {
        details: { path: file.path, size: file.size },
      });
    }
    const content = decodeForEdit(file.path, file.data);
    const plan = planEdit(content, input.oldText, input.newText);
    if (plan.positions.length !== expected) throw mismatchError(file.path, content, plan, expected);
    const updated = applyPlan(content, plan);
    const written = await ctx.fs.writeFile(file.path, updated);
    return {
      path: written.path,
      replacements: plan.positions.length,
      diff: capDiff(unifiedDiff(diffLines(content), diffLines(updated), { context: DIFF_CONTEXT, fromName: written.path, toName: written.path })),
      lineEndingsAdapted: plan.lineEndingsAdapted,
    };
  },
  text: (output) => `Edited ${output.path}: ${output.replacements} ${output.replacements === 1 ? 'replacement' : 'replacements'}\n${output.diff}`,
  auditResult: (output) => ({
    path: output.path,
    replacements: output.replacements,
    changedLines: output.diff.split('\n').filter((line) => /^[-+](?![-+]{2} )/.test(line)).length,
  }),
});

/** The file as text, refusing what an edit would damage: binary content, invalid UTF-8. A BOM is kept. */
function decodeForEdit(file: string, data: Buffer): string {
  if (looksBinary(data)) {
    throw new ValidationError(`${file} looks like a binary file; edit_block only edits text`, [{ path: 'path', message: 'binary file' }]);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    throw new ValidationError(`${file} is not valid UTF-8; editing it as text would change bytes outside the edit`, [
      { path: 'path', message: 'not valid UTF-8' },
    ]);
  }
}

function mismatchError(file: string, content: string, plan: EditPlan, expected: number): ValidationError {
  const found = plan.positions.length;
  const times = (n: number): string => (n === 1 ? '1 time' : `${n} times`);
  if (found > 0) {
    const listed = plan.positions.slice(0, MAX_LISTED_LINES);
    const lines = [...new Set(lineNumbersOf(content, listed))];
    const where = `line${lines.length === 1 ? '' : 's'} ${lines.join(', ')}${found > listed.length ? ', …' : ''}`;
    const advice =
      found > expected
        ? `Include more surrounding lines in oldText so that it matches only the place you mean, or set expectedReplacements to ${found} to replace every occurrence.`
        : `Set expectedReplacements to ${found} if those are all the places to change.`;
    return new ValidationError(
      `oldText occurs ${times(found)} in ${file} (at ${where}), but expectedReplacements is ${expected}; nothing was changed. ${advice}`,
      [{ path: 'oldText', message: `found ${found}, expected ${expected}` }],
      { details: { path: file, found, expected, lines } },
    );
  }
  const head = `oldText was not found in ${file} (expected ${times(expected)}); nothing was changed.`;
  if (content.length > CANDIDATE_SEARCH_MAX_BYTES) {
    return notFound(`${head} The file is too large to look for near matches; read the part you want to change and copy oldText from it exactly.`, file, expected, []);
  }
  const candidates = findCandidates(content, plan.oldText);
  const best = candidates[0];
  if (best === undefined) {
    return notFound(`${head} No region of the file resembles it (none is at least 50% similar); read the file again to see its current content.`, file, expected, []);
  }
  const diff = unifiedDiff(diffLines(plan.oldText.replace(/\r\n/g, '\n')), diffLines(best.text), {
    context: 3,
    fromName: 'oldText (what you sent)',
    toName: `${file} ${span(best)} (what is there)`,
    toStart: best.startLine,
  });
  const hint = best.whitespaceOnly ? ' It differs only in whitespace (indentation or spacing).' : '';
  const others = candidates.slice(1).map((c) => `${span(c)} (${percent(c.similarity)})`);
  const message = [
    head,
    `Closest match: ${span(best)} (${percent(best.similarity)} similar).${hint}`,
    capDiff(diff).trimEnd(),
    ...(others.length === 0 ? [] : [`Other similar regions: ${others.join(', ')}.`]),
    `Copy the exact text from the file (read_file with offset ${best.startLine - 1} and length ${best.endLine - best.startLine + 1}) and try again.`,
  ].join('\n');
  return notFound(message, file, expected, candidates);
}

function notFound(message: string, file: string, expected: number, candidates: readonly Candidate[]): ValidationError {
  return new ValidationError(message, [{ path: 'oldText', message: `found 0, expected ${expected}` }], {
    details: {
      path: file,
      found: 0,
      expected,
      candidates: candidates.map((c) => ({ startLine: c.startLine, endLine: c.endLine, similarity: Math.round(c.similarity * 100) / 100 })),
    },
  });
}

function span(candidate: Candidate): string {
  return candidate.startLine === candidate.endLine ? `line ${candidate.startLine}` : `lines ${candidate.startLine}–${candidate.endLine}`;
}

function percent(similarity: number): string {
  // Never round a near miss up to a claim of 100%.
  return `${Math.min(Math.round(similarity * 100), similarity < 1 ? 99 : 100)}%`;
}

function capDiff(diff: string): string {
  if (diff.length <= MAX_DIFF_CHARS) return diff;
  const cut = diff.lastIndexOf('\n', MAX_DIFF_CHARS);
  return `${diff.slice(0, cut + 1)}[diff cut after ${MAX_DIFF_CHARS} characters]\n`;
}

export const editTools = [anyTool(editBlock)];
