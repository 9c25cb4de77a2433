/**
 * search_files (names by glob) and search_content (lines by pattern), plus the tree
 * walk list_directory shares. Walks go through ctx.fs, so every directory is judged
 * by the policy, refused ones are skipped and links are never followed.
 *
 * search_content uses ripgrep when the policy lets it run, else a built-in engine.
 * ripgrep reads files itself, so every file it reports is judged again with
 * ctx.fs.allows('read') and dropped when refused: a search must never show what
 * reading the file would not (.env, keys, ironcode's data directory).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import vm from 'node:vm';
import { z } from 'zod';
import { IronError, TimeoutError, ValidationError, toIronError } from '../../core/index.js';
import type { DirEntry, GuardedFs } from '../capabilities/guarded-fs.js';
import type { ToolContext } from '../context.js';
import { anyTool, defineTool } from '../tool.js';
import { SNIFF_BYTES, decodeText, looksBinary } from './text-file.js';

// ---------------------------------------------------------------------------
// Walking a tree

export interface WalkOptions {
  /** 1: the directory's own entries only. */
  maxDepth: number;
  /** Entries whose names start with a dot (and what is under them). */
  includeHidden: boolean;
  signal?: AbortSignal;
}

export type WalkEvent =
  /** `relative` is the entry's path from the walked directory, with / separators. */
  | { kind: 'entry'; entry: DirEntry; relative: string; depth: number }
  /** The policy refuses to list this entry (a secret, ironcode's data directory); nothing about it is shown. */
  | { kind: 'refused'; relative: string }
  /** A directory that was seen but could not be listed. */
  | { kind: 'unreadable'; relative: string; message: string };

/**
 * Depth-first, each directory's entries sorted by name (the order ripgrep's
 * `--sort=path` uses too). Listing the starting directory may throw; a child that
 * cannot be listed is reported and the walk goes on. Links are reported, never
 * followed, so there are no cycles. Stop early by leaving the for-await loop.
 */
export async function* walkTree(fs: GuardedFs, root: string, options: WalkOptions): AsyncGenerator<WalkEvent> {
  const entries = await fs.list(root);
  yield* walkEntries(fs, entries, '', 1, options);
}

async function* walkEntries(fs: GuardedFs, entries: readonly DirEntry[], prefix: string, depth: number, options: WalkOptions): AsyncGenerator<WalkEvent> {
  for (const entry of entries) {
    options.signal?.throwIfAborted();
    if (!options.includeHidden && entry.name.startsWith('.')) continue;
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (!fs.allows('list', entry.path)) {
      yield { kind: 'refused', relative };
      continue;
    }
    yield { kind: 'entry', entry, relative, depth };
    if (entry.type !== 'directory' || depth >= options.maxDepth) continue;
    let children: DirEntry[];
    try {
      children = await fs.list(entry.path);
    } catch (error) {
      options.signal?.throwIfAborted();
      yield { kind: 'unreadable', relative, message: toIronError(error).message };
      continue;
    }
    yield* walkEntries(fs, children, relative, depth + 1, options);
  }
}

// ---------------------------------------------------------------------------
// Globs

/**
 * A glob as a test on paths relative to the searched directory, with ripgrep's
 * `--glob` meaning: a pattern without a slash matches the name at any depth
 * ("*.ts"); one with a slash matches the whole relative path, where `**` spans any
 * number of directories ("**\/test/*.json", "src/**"). `*` and `?` never cross a
 * slash; `[abc]`, `[!a-z]` and `{ts,tsx}` work as in a shell.
 */
export function compileGlob(pattern: string, field = 'pattern'): (relative: string) => boolean {
  const trimmed = pattern.replace(/^(\.\/|\/)+/, '');
  if (trimmed === '') throw new ValidationError(`${field} ${JSON.stringify(pattern)} is empty`, [{ path: field, message: 'empty glob' }]);
  if (trimmed.startsWith('!')) {
    throw new ValidationError(`${field} ${JSON.stringify(pattern)}: negated globs are not supported`, [{ path: field, message: 'starts with !' }]);
  }
  const regex = new RegExp(`^${globSource(trimmed, pattern, field)}$`);
  if (!trimmed.includes('/')) return (relative) => regex.test(relative.slice(relative.lastIndexOf('/') + 1));
  return (relative) => regex.test(relative);
}

function globSource(glob: string, original: string, field: string): string {
  let source = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      const wholeSegment = glob[i + 1] === '*' && (i === 0 || glob[i - 1] === '/');
      if (wholeSegment && glob[i + 2] === '/') {
        source += '(?:[^/]*/)*';
        i += 2;
      } else if (wholeSegment && i + 2 === glob.length) {
        source += '.*';
        i += 1;
      } else {
        source += '[^/]*';
        while (glob[i + 1] === '*') i++;
      }
    } else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      source += negated ? `[^/${escapeClass(body)}]` : `[${escapeClass(body)}]`;
      i = close;
    } else if (ch === '{') {
      braces++;
      source += '(?:';
    } else if (ch === '}' && braces > 0) {
      braces--;
      source += ')';
    } else if (ch === ',' && braces > 0) source += '|';
    else if (ch === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]!);
    else source += escapeRegExp(ch);
  }
  if (braces > 0) throw new ValidationError(`${field} ${JSON.stringify(original)} has an unclosed {`, [{ path: field, message: 'unclosed {' }]);
  return source;
}

function escapeClass(body: string): string {
  return body.replace(/[\\\]]/g, '\\$&');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// ---------------------------------------------------------------------------
// search_files

/** Entries a name search looks at before it stops and says so. */
const MAX_VISITED = 200_000;

export const searchFiles = defineTool('desktop', {
  name: 'search_files',
  title: 'Find files by name',
  description: 'Find files and directories under a directory whose names or relative paths match a glob such as "*.ts" or "**/test/*.json".',
  usage: [
    'Walks the directory (links are not followed; directories the policy refuses are skipped) and returns the',
    'paths, relative to it, that match the glob; directories end with "/". A glob without a slash matches names at',
    'any depth ("*.test.ts"); with a slash it matches the relative path, "**" spanning directories ("src/**/*.json").',
    '*, ?, [a-z] and {ts,tsx} work as in a shell. Hidden entries (names starting with a dot) are skipped unless',
    'includeHidden is true. At most maxResults paths (default 200) are returned; truncated says when there were more.',
  ].join(' '),
  input: z.strictObject({
    path: z.string().min(1).describe('The directory to search.'),
    pattern: z.string().min(1).max(1000).describe('A glob on names or relative paths.'),
    maxResults: z.number().int().min(1).max(10_000).optional(),
    includeHidden: z.boolean().optional(),
  }),
  output: z.object({
    root: z.string(),
    matches: z.array(z.string()),
    truncated: z.boolean(),
    /** Entries the policy refused to list. */
    skipped: z.number().int(),
  }),
  risk: 'read',
  async run(ctx, input) {
    const matches = compileGlob(input.pattern);
    const root = ctx.fs.check('list', input.path);
    const limit = input.maxResults ?? 200;
    const found: string[] = [];
    let visited = 0;
    let skipped = 0;
    let truncated = false;
    for await (const event of walkTree(ctx.fs, root, { maxDepth: Number.POSITIVE_INFINITY, includeHidden: input.includeHidden === true, signal: ctx.signal })) {
      if (event.kind === 'refused') skipped++;
      if (event.kind !== 'entry') continue;
      if (++visited % 1000 === 0) ctx.progress(visited, undefined, `${visited} entries looked at`);
      if (matches(event.relative)) {
        if (found.length === limit) {
          truncated = true;
          break;
        }
        found.push(event.entry.type === 'directory' ? `${event.relative}/` : event.relative);
      }
      if (visited >= MAX_VISITED) {
        truncated = true;
        break;
      }
    }
    return { root, matches: found, truncated, skipped };
  },
  text: (output) =>
    [
      `${output.matches.length} ${output.matches.length === 1 ? 'match' : 'matches'} under ${output.root}${output.truncated ? ' (more not shown)' : ''}`,
      ...output.matches,
    ].join('\n'),
  auditResult: (output) => ({ root: output.root, matches: output.matches.length, truncated: output.truncated }),
});

// ---------------------------------------------------------------------------
// search_content: shared shapes

export type SearchEngine = 'ripgrep' | 'builtin';

export interface ContentMatch {
  /** Relative to the search root. */
  file: string;
  /** 1-based. */
  line: number;
  text: string;
  before?: string[];
  after?: string[];
}

interface ContentQuery {
  /** The directory results are relative to (and ripgrep runs in). */
  root: string;
  /** A single file to search instead of the tree. */
  file?: string;
  pattern: string;
  literal: boolean;
  ignoreCase: boolean;
  filePattern?: string;
  includeHidden: boolean;
  contextLines: number;
}

interface Page {
  offset: number;
  limit: number;
}

interface EngineResult {
  matches: ContentMatch[];
  /** More matches follow this page. */
  more: boolean;
  filesSearched?: number;
  /** The engine stopped before the end (output or walk cap): later matches may be missing. */
  incomplete: boolean;
}

/** Lines longer than this are cut in results: one minified file should not fill the answer. */
const MAX_LINE_CHARS = 1000;

function shortLine(line: string): string {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  return text.length <= MAX_LINE_CHARS ? text : `${text.slice(0, MAX_LINE_CHARS)}… [${text.length - MAX_LINE_CHARS} more characters]`;
}

/** The lines of a file as matches report them: without endings, no empty line after a final break. */
function fileLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Match objects for the matching line numbers of one file, with context taken from `lineAt`. */
function buildMatches(file: string, lineNumbers: readonly number[], contextLines: number, lineAt: (line: number) => string | undefined): ContentMatch[] {
  return lineNumbers.map((line) => {
    const match: ContentMatch = { file, line, text: shortLine(lineAt(line) ?? '') };
    if (contextLines > 0) {
      const before: string[] = [];
      for (let n = Math.max(1, line - contextLines); n < line; n++) {
        const text = lineAt(n);
        if (text !== undefined) before.push(shortLine(text));
      }
      const after: string[] = [];
      for (let n = line + 1; n <= line + contextLines; n++) {
        const text = lineAt(n);
        if (text === undefined) break;
        after.push(shortLine(text));
      }
      match.before = before;
      match.after = after;
    }
    return match;
  });
}

// ---------------------------------------------------------------------------
// Cursors

/**
 * A cursor is the offset of the next match in the search's ordered result list,
 * with a fingerprint of the query and the engine that produced it. Each page runs
 * the search again, which keeps the server stateless; if files change between
 * pages, a page may repeat or skip a match.
 */
interface CursorState {
  offset: number;
  engine: SearchEngine;
  query: string;
}

function queryFingerprint(query: ContentQuery): string {
  const key = [query.root, query.file ?? '', query.pattern, query.literal, query.ignoreCase, query.filePattern ?? '', query.includeHidden];
  return createHash('sha256').update(JSON.stringify(key)).digest('base64url').slice(0, 16);
}

function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify({ v: 1, o: state.offset, e: state.engine, q: state.query })).toString('base64url');
}

const cursorSchema = z.object({ v: z.literal(1), o: z.number().int().min(0), e: z.enum(['ripgrep', 'builtin']), q: z.string() });

function decodeCursor(cursor: string, query: string): CursorState {
  const invalid = (why: string) => new ValidationError(`cursor ${why}; start again without one`, [{ path: 'cursor', message: why }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('is not a cursor this tool returned');
  }
  const state = cursorSchema.safeParse(parsed);
  if (!state.success) throw invalid('is not a cursor this tool returned');
  if (state.data.q !== query) throw invalid('belongs to a different search (path, pattern or options changed)');
  return { offset: state.data.o, engine: state.data.e, query: state.data.q };
}

// ---------------------------------------------------------------------------
// The ripgrep engine

/** ripgrep cannot serve this search (not installed, refused by the policy, failed); `auto` falls back. */
class EngineUnavailable extends Error {}

/** The pattern is not valid for the engine: a caller's mistake, though `auto` may still try the other engine. */
class PatternError extends ValidationError {
  constructor(message: string) {
    super(message, [{ path: 'pattern', message: 'invalid pattern' }]);
  }
}

/** Caps ripgrep's wall clock below the profile's limit: a search that takes this long should be narrowed. */
const RIPGREP_TIMEOUT_MS = 120_000;

function ripgrepMatchOptions(query: ContentQuery): string[] {
  return [
    '--no-config',
    '--no-follow',
    query.ignoreCase ? '--ignore-case' : '--case-sensitive',
    ...(query.literal ? ['--fixed-strings'] : []),
  ];
}

/**
 * Two runs, so output stays small however deep the page: first `--count` per file
 * (sorted, NUL-separated), which gives the ordered list of files with their number of
 * matching lines; then `--json` on just the files that hold the asked page. The
 * pattern always follows `-e`, and paths follow `--`, so neither can be read as an
 * option; the working directory is the search root so relative globs mean the same
 * as in the built-in engine.
 */
async function searchWithRipgrep(ctx: ToolContext, query: ContentQuery, page: Page): Promise<EngineResult> {
  const target = query.file ?? query.root;
  const counted = await runRipgrep(ctx, query, [
    'rg',
    ...ripgrepMatchOptions(query),
    '--count',
    '--with-filename',
    '--null',
    '--sort=path',
    ...(query.includeHidden ? ['--hidden'] : []),
    ...(query.filePattern === undefined ? [] : [`--glob=${query.filePattern}`]),
    '-e',
    query.pattern,
    '--',
    target,
  ]);
  const files: { file: string; count: number }[] = [];
  for (const line of counted.stdout.split('\n')) {
    const nul = line.indexOf('\0');
    if (nul === -1) continue;
    const file = line.slice(0, nul);
    const count = Number(line.slice(nul + 1));
    // The policy judges every file ripgrep found, before anything of it is used.
    if (Number.isSafeInteger(count) && count > 0 && isInsideRoot(file, query.root) && ctx.fs.allows('read', file)) files.push({ file, count });
  }
  const total = files.reduce((sum, f) => sum + f.count, 0);
  const wanted: string[] = [];
  let skip = 0;
  let seen = 0;
  for (const f of files) {
    if (seen + f.count > page.offset && seen < page.offset + page.limit) {
      if (wanted.length === 0) skip = page.offset - seen;
      wanted.push(f.file);
    }
    seen += f.count;
  }
  const shown = wanted.length === 0 ? { matches: [], truncated: false } : await ripgrepPage(ctx, query, wanted, skip, page.limit);
  return { matches: shown.matches, more: total > page.offset + page.limit, incomplete: counted.truncated || shown.truncated };
}

async function ripgrepPage(
  ctx: ToolContext,
  query: ContentQuery,
  files: readonly string[],
  skip: number,
  limit: number,
): Promise<{ matches: ContentMatch[]; truncated: boolean }> {
  const run = await runRipgrep(ctx, query, [
    'rg',
    ...ripgrepMatchOptions(query),
    '--json',
    `--max-count=${skip + limit}`,
    ...(query.contextLines > 0 ? [`--context=${query.contextLines}`] : []),
    '-e',
    query.pattern,
    '--',
    ...files,
  ]);
  // Per file: every line ripgrep printed (matches and context) and which ones matched.
  const byFile = new Map<string, { lines: Map<number, string>; matched: number[] }>();
  for (const line of run.stdout.split('\n')) {
    const message = parseRipgrepLine(line);
    if (message === null) continue;
    let file = byFile.get(message.file);
    if (file === undefined) {
      file = { lines: new Map(), matched: [] };
      byFile.set(message.file, file);
    }
    file.lines.set(message.line, message.text);
    if (message.match) file.matched.push(message.line);
  }
  const matches: ContentMatch[] = [];
  for (const [index, absolute] of files.entries()) {
    const found = byFile.get(absolute);
    if (found === undefined || !ctx.fs.allows('read', absolute)) continue;
    const lines = found.matched.slice(index === 0 ? skip : 0, (index === 0 ? skip : 0) + limit - matches.length);
    matches.push(...buildMatches(path.posix.relative(query.root, absolute), lines, query.contextLines, (n) => found.lines.get(n)));
    if (matches.length >= limit) break;
  }
  return { matches, truncated: run.truncated };
}

const ripgrepText = z.union([z.object({ text: z.string() }), z.object({ bytes: z.string() })]);
const ripgrepMessage = z.object({
  type: z.enum(['match', 'context']),
  data: z.object({ path: ripgrepText, lines: ripgrepText, line_number: z.number().int().positive() }),
});

function parseRipgrepLine(line: string): { file: string; line: number; text: string; match: boolean } | null {
  if (!line.startsWith('{"type":"match"') && !line.startsWith('{"type":"context"')) return null;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null; // the last line of output cut at the byte cap
  }
  const parsed = ripgrepMessage.safeParse(json);
  if (!parsed.success) return null;
  const { data } = parsed.data;
  const text = 'text' in data.lines ? data.lines.text : decodeText(Buffer.from(data.lines.bytes, 'base64'));
  return {
    file: 'text' in data.path ? data.path.text : Buffer.from(data.path.bytes, 'base64').toString('utf8'),
    line: data.line_number,
    text: text.replace(/\r?\n$/, ''),
    match: parsed.data.type === 'match',
  };
}

async function runRipgrep(ctx: ToolContext, query: ContentQuery, argv: readonly string[]): Promise<{ stdout: string; truncated: boolean }> {
  const judgement = await ctx.exec.judge({ argv }, { cwd: query.root });
  if (!judgement.decision.allowed) throw new EngineUnavailable(`ripgrep cannot run here: ${judgement.decision.reason}`);
  let result;
  try {
    result = await ctx.exec.run({ argv }, { cwd: query.root, timeoutMs: RIPGREP_TIMEOUT_MS, signal: ctx.signal });
  } catch (error) {
    ctx.signal.throwIfAborted();
    throw new EngineUnavailable(`ripgrep failed to start: ${toIronError(error).message}`);
  }
  if (result.aborted) ctx.signal.throwIfAborted();
  if (result.timedOut) throw new TimeoutError(`ripgrep took longer than ${RIPGREP_TIMEOUT_MS / 1000} s; narrow the search (path, filePattern)`);
  // 0: matches, 1: none, 2: an error, possibly with results (a file it could not read).
  if (result.exitCode === 0 || result.exitCode === 1) return result;
  const stderr = result.stderr.trim();
  if (/regex parse error|error parsing regex/i.test(stderr)) throw new PatternError(`pattern is not a valid ripgrep regular expression: ${stderr}`);
  if (result.exitCode === 2 && result.stdout !== '') return result;
  throw new EngineUnavailable(`ripgrep failed (exit ${result.exitCode ?? result.signal}): ${stderr.slice(0, 500)}`);
}

function isInsideRoot(file: string, root: string): boolean {
  return file === root || file.startsWith(root.endsWith('/') ? root : `${root}/`);
}

// ---------------------------------------------------------------------------
// The built-in engine

/** Files larger than this are skipped by the built-in engine (ripgrep has no such limit). */
export const BUILTIN_MAX_FILE_BYTES = 8 * 1024 * 1024;
/** Time one file's lines may take against the pattern: a backtracking regex must not stall the server. */
const REGEX_TIMEOUT_MS = 2000;
/** Files the built-in engine reads before it stops and says the result is incomplete. */
const BUILTIN_MAX_FILES = 100_000;

/**
 * JavaScript regular expressions backtrack, so a pattern like (a+)+$ can take
 * exponential time on a short line. The lines are therefore tested inside a vm
 * context whose runs have a timeout, which interrupts even a regex in progress.
 */
function createLineMatcher(query: ContentQuery): (text: string, max: number) => number[] {
  const source = query.literal ? escapeRegExp(query.pattern) : query.pattern;
  const flags = query.ignoreCase ? 'i' : '';
  try {
    new RegExp(source, flags);
  } catch (error) {
    throw new PatternError(`pattern is not a valid regular expression: ${(error as Error).message}`);
  }
  const sandbox = vm.createContext({ source, flags, text: '', max: 0 });
  new vm.Script('globalThis.re = new RegExp(source, flags);').runInContext(sandbox);
  // Returns the 0-based indices of matching lines (CR stripped, no empty line after a final break).
  const find = new vm.Script(`(() => {
    const lines = text.split('\\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const hits = [];
    for (let i = 0; i < lines.length && hits.length < max; i++) {
      const line = lines[i].endsWith('\\r') ? lines[i].slice(0, -1) : lines[i];
      if (re.test(line)) hits.push(i);
    }
    return hits.join(',');
  })()`);
  return (text, max) => {
    sandbox.text = text;
    sandbox.max = max;
    let hits: unknown;
    try {
      hits = find.runInContext(sandbox, { timeout: REGEX_TIMEOUT_MS });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        throw new PatternError(
          `pattern took longer than ${REGEX_TIMEOUT_MS / 1000} s on one file; it probably backtracks catastrophically (nested quantifiers such as (a+)+). Simplify it or use literal: true`,
        );
      }
      throw error;
    } finally {
      sandbox.text = '';
    }
    return typeof hits === 'string' && hits !== '' ? hits.split(',').map(Number) : [];
  };
}

async function searchWithBuiltin(ctx: ToolContext, query: ContentQuery, page: Page): Promise<EngineResult> {
  const matchLines = createLineMatcher(query);
  const wantsFile = query.filePattern === undefined ? () => true : compileGlob(query.filePattern, 'filePattern');
  const needed = page.offset + page.limit + 1;
  const collected: ContentMatch[] = [];
  let seen = 0;
  let filesSearched = 0;
  let incomplete = false;

  const searchOne = async (absolute: string, relative: string): Promise<void> => {
    let data: Buffer;
    try {
      const read = await ctx.fs.readFile(absolute, { maxBytes: BUILTIN_MAX_FILE_BYTES });
      if (read.truncated) return;
      data = read.data;
    } catch (error) {
      ctx.signal.throwIfAborted();
      // A file that vanished or cannot be opened is not the search's failure.
      if (error instanceof IronError) return;
      throw error;
    }
    if (looksBinary(data.subarray(0, SNIFF_BYTES))) return;
    filesSearched++;
    if (filesSearched % 100 === 0) ctx.progress(filesSearched, undefined, `${filesSearched} files searched`);
    const text = decodeText(data);
    const hits = matchLines(text, needed - seen);
    if (hits.length === 0) return;
    const firstWanted = Math.max(0, page.offset - seen);
    seen += hits.length;
    if (firstWanted >= hits.length) return;
    const lines = fileLines(text);
    const wanted = hits.slice(firstWanted).map((i) => i + 1);
    collected.push(...buildMatches(relative, wanted, query.contextLines, (n) => lines[n - 1]));
  };

  if (query.file !== undefined) {
    await searchOne(query.file, path.posix.relative(query.root, query.file));
  } else {
    for await (const event of walkTree(ctx.fs, query.root, { maxDepth: Number.POSITIVE_INFINITY, includeHidden: query.includeHidden, signal: ctx.signal })) {
      if (event.kind !== 'entry' || event.entry.type !== 'file') continue;
      if (!wantsFile(event.relative) || !ctx.fs.allows('read', event.entry.path)) continue;
      await searchOne(event.entry.path, event.relative);
      if (seen >= needed) break;
      if (filesSearched >= BUILTIN_MAX_FILES) {
        incomplete = true;
        break;
      }
    }
  }
  return { matches: collected.slice(0, page.limit), more: seen > page.offset + page.limit, filesSearched, incomplete };
}

// ---------------------------------------------------------------------------
// search_content

export const searchContent = defineTool('desktop', {
  name: 'search_content',
  title: 'Search file contents',
  description: 'Search the lines of files under a directory (or one file) for a regular expression or a fixed string, with optional context lines and paging.',
  usage: [
    'Returns matching lines as { file (relative to root), line (1-based), text, before, after }, in path order.',
    'pattern is a regular expression unless literal is true; ignoreCase, filePattern (a glob such as "*.ts" or',
    '"src/**/*.json") and contextLines (0–5) narrow or widen it. Hidden files are skipped unless includeHidden is true;',
    'binary files are skipped. Files the policy refuses to read (.env, keys, ironcode\'s data) are never searched or',
    'shown. Uses ripgrep when it is installed and allowed (engine "auto"), which also honours .gitignore; otherwise a',
    'built-in engine with JavaScript regular expressions that skips files over 8 MiB. Regex syntax differs slightly',
    'between them (ripgrep has no look-around; auto then uses the built-in engine). At most maxResults matches',
    '(default 100) per call: pass nextCursor back as cursor for the next page; each page runs the search again.',
  ].join(' '),
  input: z.strictObject({
    path: z.string().min(1).describe('The directory (or file) to search.'),
    pattern: z.string().min(1).max(10_000).describe('A regular expression, or a fixed string with literal: true.'),
    literal: z.boolean().optional(),
    ignoreCase: z.boolean().optional(),
    filePattern: z.string().min(1).max(1000).optional().describe('Only files whose name or relative path matches this glob.'),
    includeHidden: z.boolean().optional(),
    contextLines: z.number().int().min(0).max(5).optional(),
    maxResults: z.number().int().min(1).max(1000).optional(),
    cursor: z.string().min(1).max(2000).optional().describe('nextCursor from the previous page.'),
    engine: z.enum(['auto', 'ripgrep', 'builtin']).optional().describe('auto (default): ripgrep when available, else built-in.'),
  }),
  output: z.object({
    root: z.string(),
    matches: z.array(
      z.object({
        file: z.string(),
        line: z.number().int(),
        text: z.string(),
        before: z.array(z.string()).optional(),
        after: z.array(z.string()).optional(),
      }),
    ),
    nextCursor: z.string().optional(),
    engine: z.enum(['ripgrep', 'builtin']),
    filesSearched: z.number().int().optional(),
    /** The search stopped at a size limit before the end; later matches may be missing. */
    incomplete: z.boolean(),
  }),
  risk: 'read',
  async run(ctx, input) {
    // A bad glob is refused the same way whichever engine would have run.
    if (input.filePattern !== undefined) compileGlob(input.filePattern, 'filePattern');
    const query = await resolveQuery(ctx, input);
    const fingerprint = queryFingerprint(query);
    const cursor = input.cursor === undefined ? undefined : decodeCursor(input.cursor, fingerprint);
    const requested = input.engine ?? 'auto';
    if (cursor !== undefined && requested !== 'auto' && requested !== cursor.engine) {
      throw new ValidationError(`cursor came from the ${cursor.engine} engine, but engine is ${requested}`, [{ path: 'cursor', message: 'engine mismatch' }]);
    }
    const page: Page = { offset: cursor?.offset ?? 0, limit: input.maxResults ?? 100 };
    if (query.file !== undefined && (await isBinaryFile(ctx, query.file))) {
      return { root: query.root, matches: [], engine: cursor?.engine ?? 'builtin', filesSearched: 0, incomplete: false };
    }
    // Pages of one search come from one engine: their orders can differ.
    const engine: SearchEngine | 'auto' = cursor?.engine ?? requested;
    const { result, used } = await searchWith(ctx, engine, query, page);
    return {
      root: query.root,
      matches: result.matches,
      ...(result.more ? { nextCursor: encodeCursor({ offset: page.offset + page.limit, engine: used, query: fingerprint }) } : {}),
      engine: used,
      ...(result.filesSearched === undefined ? {} : { filesSearched: result.filesSearched }),
      incomplete: result.incomplete,
    };
  },
  text(output) {
    const head = `${output.matches.length} ${output.matches.length === 1 ? 'match' : 'matches'} under ${output.root} (${output.engine})${output.nextCursor === undefined ? '' : '; more with cursor ' + output.nextCursor}${output.incomplete ? '; the search stopped at a size limit, later matches may be missing' : ''}`;
    const lines = [head];
    for (const match of output.matches) {
      const before = match.before ?? [];
      before.forEach((text, i) => lines.push(`${match.file}-${match.line - before.length + i}-${text}`));
      lines.push(`${match.file}:${match.line}:${match.text}`);
      (match.after ?? []).forEach((text, i) => lines.push(`${match.file}-${match.line + i + 1}-${text}`));
      if (before.length > 0 || (match.after ?? []).length > 0) lines.push('--');
    }
    return lines.join('\n');
  },
  auditResult: (output) => ({
    root: output.root,
    matches: output.matches.length,
    files: new Set(output.matches.map((m) => m.file)).size,
    engine: output.engine,
    more: output.nextCursor !== undefined,
  }),
});

async function resolveQuery(
  ctx: ToolContext,
  input: { path: string; pattern: string; literal?: boolean | undefined; ignoreCase?: boolean | undefined; filePattern?: string | undefined; includeHidden?: boolean | undefined; contextLines?: number | undefined },
): Promise<ContentQuery> {
  const target = ctx.fs.check('list', input.path);
  const info = await ctx.fs.info(target);
  const common = {
    pattern: input.pattern,
    literal: input.literal === true,
    ignoreCase: input.ignoreCase === true,
    includeHidden: input.includeHidden === true,
    contextLines: input.contextLines ?? 0,
    ...(input.filePattern === undefined ? {} : { filePattern: input.filePattern }),
  };
  if (info.type === 'directory') return { root: target, ...common };
  if (info.type === 'file') {
    ctx.fs.check('read', target);
    return { root: path.posix.dirname(target), file: target, ...common };
  }
  throw new ValidationError(`${target} is a ${info.type}; search a directory or a regular file`, [{ path: 'path', message: `is a ${info.type}` }]);
}

async function isBinaryFile(ctx: ToolContext, file: string): Promise<boolean> {
  const head = await ctx.fs.readFile(file, { maxBytes: SNIFF_BYTES });
  return looksBinary(head.data);
}

/** Runs the engine asked for; `auto` prefers ripgrep and falls back when it cannot serve the search. */
async function searchWith(ctx: ToolContext, engine: SearchEngine | 'auto', query: ContentQuery, page: Page): Promise<{ result: EngineResult; used: SearchEngine }> {
  if (engine === 'builtin') return { result: await searchWithBuiltin(ctx, query, page), used: 'builtin' };
  try {
    return { result: await searchWithRipgrep(ctx, query, page), used: 'ripgrep' };
  } catch (error) {
    if (engine === 'ripgrep') {
      if (error instanceof EngineUnavailable) throw new IronError('unavailable', error.message);
      throw error;
    }
    if (!(error instanceof EngineUnavailable) && !(error instanceof PatternError)) throw error;
    ctx.log.debug({ reason: error.message }, 'search_content: using the built-in engine');
    return { result: await searchWithBuiltin(ctx, query, page), used: 'builtin' };
  }
}

export const searchTools = [anyTool(searchFiles), anyTool(searchContent)];
