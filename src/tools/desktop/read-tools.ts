/**
 * Reading tools: read_file, read_multiple_files, get_file_info, list_directory. All
 * file access goes through ctx.fs, so the policy judges every path; what a model
 * gets back is bounded (bytes per file and per call, entries per listing) because
 * every byte returned costs its context.
 */
import { z } from 'zod';
import { toIronError } from '../../core/index.js';
import type { OpenedFile } from '../capabilities/guarded-fs.js';
import type { ToolContext } from '../context.js';
import { anyTool, defineTool } from '../tool.js';
import { walkTree } from './search-tools.js';
import { SNIFF_BYTES, countLines, decodeText, guessMime, looksBinary, readLineWindow } from './text-file.js';

const MiB = 1024 * 1024;
/** Text read_file returns by default; a call may ask for up to READ_HARD_MAX_BYTES. */
export const READ_DEFAULT_MAX_BYTES = 1 * MiB;
export const READ_HARD_MAX_BYTES = 10 * MiB;
/** Files up to this size have all their lines counted (totalLines); beyond it only when the read reaches the end. */
const COUNT_LIMIT = 32 * MiB;
const MULTI_DEFAULT_MAX_BYTES = 256 * 1024;
/** All files of one read_multiple_files call together. */
const MULTI_TOTAL_MAX_BYTES = 10 * MiB;
/** get_file_info counts lines of text files up to this size. */
const INFO_LINE_COUNT_MAX_BYTES = 1 * MiB;

interface TextRead {
  path: string;
  content: string;
  size: number;
  binary: boolean;
  mime?: string;
  startLine?: number;
  linesReturned: number;
  totalLines?: number;
  truncated: boolean;
}

/** One read of an opened file: binary files are described, text files cut to the requested lines and bytes. */
async function readText(ctx: ToolContext, file: OpenedFile, request: { offset: number; length?: number; maxBytes: number }): Promise<TextRead> {
  const head = await file.read(0, Math.min(file.size, SNIFF_BYTES));
  if (looksBinary(head)) {
    return { path: file.path, content: '', size: file.size, binary: true, mime: guessMime(file.path, head), linesReturned: 0, truncated: false };
  }
  const window = await readLineWindow(file, { ...request, countLimit: COUNT_LIMIT, signal: ctx.signal });
  return {
    path: file.path,
    content: decodeText(window.data),
    size: file.size,
    binary: false,
    ...(window.startLine === undefined ? {} : { startLine: window.startLine }),
    linesReturned: window.linesReturned,
    ...(window.totalLines === undefined ? {} : { totalLines: window.totalLines }),
    truncated: window.truncated,
  };
}

function describeBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MiB) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / (1024 * MiB)).toFixed(1)} GiB`;
}

/** "lines 1–200 of 5000 of /x/y", and what to do when more is left. */
function readHeader(read: TextRead): string {
  if (read.binary) return `${read.path} is a binary file (${read.mime ?? 'application/octet-stream'}, ${describeBytes(read.size)}); its content is not shown`;
  const of = read.totalLines === undefined ? '' : ` of ${read.totalLines}`;
  if (read.linesReturned === 0) {
    if (read.size === 0) return `${read.path} is empty`;
    return `no lines from line ${read.startLine ?? '?'} of ${read.path}${read.totalLines === undefined ? '' : `: it has ${read.totalLines} ${read.totalLines === 1 ? 'line' : 'lines'}`}`;
  }
  const range =
    read.startLine === undefined
      ? `the last ${read.linesReturned} lines (line numbers not counted: the file is ${describeBytes(read.size)})`
      : `lines ${read.startLine}–${read.startLine + read.linesReturned - 1}${of}`;
  const more = read.truncated
    ? read.startLine === undefined
      ? '; cut at maxBytes'
      : `; cut at maxBytes, continue with offset ${read.startLine - 1 + read.linesReturned}`
    : '';
  return `${range} of ${read.path}${more}`;
}

// ---------------------------------------------------------------------------

export const readFile = defineTool('desktop', {
  name: 'read_file',
  title: 'Read a file',
  description: 'Read a text file, or a range of its lines (offset and length; a negative offset reads from the end like tail).',
  usage: [
    'Returns the text of the file with its line endings untouched. offset is the 0-based line to start at (negative:',
    'that many lines from the end, e.g. -50 for the last 50), length the most lines to return. At most maxBytes of',
    'text are returned (default 1 MiB, at most 10 MiB); when the cut comes first, truncated is true and the reply says',
    'which offset continues. startLine is the 1-based number of the first line returned and totalLines the file\'s line',
    'count (omitted for very large files when not known). Binary files (a NUL byte or invalid UTF-8 in the first',
    '8 KiB) are not returned: binary is true, with the size and a guess of the type.',
  ].join(' '),
  input: z.strictObject({
    path: z.string().min(1).describe('The file to read.'),
    offset: z.number().int().min(-1e9).max(1e9).optional().describe('0-based line to start at; negative counts from the end.'),
    length: z.number().int().min(1).max(1e9).optional().describe('The most lines to return.'),
    maxBytes: z.number().int().min(1).max(READ_HARD_MAX_BYTES).optional().describe('The most bytes of text to return (default 1 MiB).'),
  }),
  output: z.object({
    path: z.string(),
    content: z.string(),
    totalLines: z.number().int().optional(),
    startLine: z.number().int().optional(),
    linesReturned: z.number().int(),
    truncated: z.boolean(),
    size: z.number().int(),
    binary: z.boolean(),
    mime: z.string().optional(),
  }),
  risk: 'read',
  async run(ctx, input) {
    return ctx.fs.readWith(input.path, (file) =>
      readText(ctx, file, {
        offset: input.offset ?? 0,
        ...(input.length === undefined ? {} : { length: input.length }),
        maxBytes: input.maxBytes ?? READ_DEFAULT_MAX_BYTES,
      }),
    );
  },
  text: (output) => (output.binary || output.linesReturned === 0 ? readHeader(output) : `${readHeader(output)}\n${output.content}`),
  auditResult: (output) => ({
    path: output.path,
    size: output.size,
    binary: output.binary,
    startLine: output.startLine,
    linesReturned: output.linesReturned,
    truncated: output.truncated,
  }),
});

// ---------------------------------------------------------------------------

export const readMultipleFiles = defineTool('desktop', {
  name: 'read_multiple_files',
  title: 'Read several files',
  description: 'Read up to 50 files in one call; a file that cannot be read reports its error in its own entry.',
  usage: [
    'Each entry has the path as given, and either content (text, cut at maxBytesPerFile, default 256 KiB) or error.',
    'A missing file, a directory or one the policy refuses does not fail the others. Binary files are reported with',
    'binary: true and no content. All files together return at most 10 MiB; files past that budget come back empty',
    'with truncated: true. Use read_file for line ranges.',
  ].join(' '),
  input: z.strictObject({
    paths: z.array(z.string().min(1)).min(1).max(50).describe('The files to read.'),
    maxBytesPerFile: z.number().int().min(1).max(READ_HARD_MAX_BYTES).optional(),
  }),
  output: z.object({
    files: z.array(
      z.object({
        path: z.string(),
        content: z.string().optional(),
        error: z.string().optional(),
        /** The error's stable code (IRON_NOT_FOUND, IRON_POLICY_DENIED …). */
        code: z.string().optional(),
        truncated: z.boolean(),
        binary: z.boolean(),
        size: z.number().int().optional(),
        totalLines: z.number().int().optional(),
        mime: z.string().optional(),
      }),
    ),
  }),
  risk: 'read',
  async run(ctx, input) {
    const perFile = input.maxBytesPerFile ?? MULTI_DEFAULT_MAX_BYTES;
    let budget = MULTI_TOTAL_MAX_BYTES;
    const files = [];
    for (const raw of input.paths) {
      ctx.signal.throwIfAborted();
      try {
        // Past the call's budget a file is still opened, so a missing or refused one still says so.
        const read = await ctx.fs.readWith(raw, (file) => readText(ctx, file, { offset: 0, maxBytes: Math.min(perFile, budget) }));
        budget -= Buffer.byteLength(read.content);
        files.push({
          path: raw,
          ...(read.binary ? {} : { content: read.content }),
          truncated: read.truncated,
          binary: read.binary,
          size: read.size,
          ...(read.totalLines === undefined ? {} : { totalLines: read.totalLines }),
          ...(read.mime === undefined ? {} : { mime: read.mime }),
        });
      } catch (error) {
        ctx.signal.throwIfAborted();
        const failure = toIronError(error);
        files.push({ path: raw, error: failure.message, code: failure.code, truncated: false, binary: false });
      }
    }
    return { files };
  },
  text: (output) =>
    output.files
      .map((file) => {
        if (file.error !== undefined) return `== ${file.path}: ${file.error}`;
        if (file.binary) return `== ${file.path}: binary file (${file.mime ?? 'application/octet-stream'}, ${describeBytes(file.size ?? 0)}); content not shown`;
        const notes = [file.totalLines === undefined ? undefined : `${file.totalLines} ${file.totalLines === 1 ? 'line' : 'lines'}`, file.truncated ? 'truncated' : undefined].filter(Boolean);
        return `== ${file.path}${notes.length === 0 ? '' : ` (${notes.join(', ')})`}\n${file.content ?? ''}`;
      })
      .join('\n'),
  auditResult: (output) => ({
    files: output.files.length,
    failed: output.files.filter((f) => f.error !== undefined).length,
    bytes: output.files.reduce((sum, f) => sum + Buffer.byteLength(f.content ?? ''), 0),
  }),
});

// ---------------------------------------------------------------------------

export const getFileInfo = defineTool('desktop', {
  name: 'get_file_info',
  title: 'Describe a file',
  description: 'Size, type, permissions and times of a file or directory (a link is described, not followed); line count for small text files.',
  input: z.strictObject({ path: z.string().min(1).describe('The file, directory or link to describe.') }),
  output: z.object({
    path: z.string(),
    type: z.enum(['file', 'directory', 'symlink', 'other']),
    size: z.number().int(),
    mode: z.string(),
    modifiedAt: z.string(),
    createdAt: z.string(),
    accessedAt: z.string(),
    linkTarget: z.string().optional(),
    /** For regular files up to 1 MiB. */
    binary: z.boolean().optional(),
    lines: z.number().int().optional(),
    mime: z.string().optional(),
  }),
  risk: 'read',
  async run(ctx, input) {
    const info = await ctx.fs.info(input.path);
    if (info.type !== 'file' || info.size > INFO_LINE_COUNT_MAX_BYTES) return info;
    const read = await ctx.fs.readFile(info.path, { maxBytes: INFO_LINE_COUNT_MAX_BYTES });
    if (looksBinary(read.data)) return { ...info, binary: true, mime: guessMime(info.path, read.data) };
    return { ...info, binary: false, lines: countLines(decodeText(read.data)) };
  },
  text: (output) =>
    [
      `${output.path}: ${output.type}${output.linkTarget === undefined ? '' : ` -> ${output.linkTarget}`}, ${describeBytes(output.size)}, mode ${output.mode}`,
      `modified ${output.modifiedAt}, created ${output.createdAt}, accessed ${output.accessedAt}`,
      ...(output.lines === undefined ? [] : [`${output.lines} lines of text`]),
      ...(output.binary === true ? [`binary (${output.mime ?? 'application/octet-stream'})`] : []),
    ].join('\n'),
  auditResult: (output) => ({ path: output.path, type: output.type, size: output.size }),
});

// ---------------------------------------------------------------------------

export const listDirectory = defineTool('desktop', {
  name: 'list_directory',
  title: 'List a directory',
  description: 'List the entries of a directory, optionally several levels deep and with file sizes.',
  usage: [
    'Entries are listed depth-first, sorted by name, with paths relative to the listed directory and a type (file,',
    'directory, symlink, other). depth 1 (default) lists the directory itself, up to 10 goes deeper. Links are listed,',
    'never followed. Entries the policy refuses to show (secrets such as .env or .ssh, ironcode\'s data directory) are',
    'left out and counted in skipped; a subdirectory that cannot be read is listed with its error. At most maxEntries',
    '(default 1000) entries are returned; truncated says when there were more.',
  ].join(' '),
  input: z.strictObject({
    path: z.string().min(1).describe('The directory to list.'),
    depth: z.number().int().min(1).max(10).optional(),
    includeSizes: z.boolean().optional().describe('Add the size of each file (one more look at each).'),
    maxEntries: z.number().int().min(1).max(10_000).optional(),
  }),
  output: z.object({
    path: z.string(),
    entries: z.array(
      z.object({
        path: z.string(),
        type: z.enum(['file', 'directory', 'symlink', 'other']),
        size: z.number().int().optional(),
        error: z.string().optional(),
      }),
    ),
    truncated: z.boolean(),
    /** Entries the policy refused to list. */
    skipped: z.number().int(),
  }),
  risk: 'read',
  async run(ctx, input) {
    const root = ctx.fs.check('list', input.path);
    const limit = input.maxEntries ?? 1000;
    const entries: { path: string; type: 'file' | 'directory' | 'symlink' | 'other'; size?: number; error?: string }[] = [];
    const byPath = new Map<string, (typeof entries)[number]>();
    let skipped = 0;
    let truncated = false;
    for await (const event of walkTree(ctx.fs, root, { maxDepth: input.depth ?? 1, includeHidden: true, signal: ctx.signal })) {
      if (event.kind === 'refused') {
        skipped++;
        continue;
      }
      if (event.kind === 'unreadable') {
        const entry = byPath.get(event.relative);
        if (entry !== undefined) entry.error = event.message;
        continue;
      }
      if (entries.length === limit) {
        truncated = true;
        break;
      }
      const entry: (typeof entries)[number] = { path: event.relative, type: event.entry.type };
      if (input.includeSizes === true && event.entry.type === 'file') {
        // A file the policy lets one list but not read (a private key) keeps its size to itself.
        const size = await ctx.fs.info(event.entry.path).then(
          (info) => info.size,
          () => undefined,
        );
        if (size !== undefined) entry.size = size;
      }
      entries.push(entry);
      byPath.set(event.relative, entry);
    }
    return { path: root, entries, truncated, skipped };
  },
  text(output) {
    const tag = { file: 'FILE', directory: 'DIR ', symlink: 'LINK', other: 'OTHR' } as const;
    const lines = output.entries.map(
      (e) => `[${tag[e.type]}] ${e.path}${e.type === 'directory' ? '/' : ''}${e.size === undefined ? '' : ` (${describeBytes(e.size)})`}${e.error === undefined ? '' : ` (cannot list: ${e.error})`}`,
    );
    const notes = [
      `${output.entries.length} ${output.entries.length === 1 ? 'entry' : 'entries'} in ${output.path}`,
      ...(output.skipped > 0 ? [`${output.skipped} hidden by the safety policy`] : []),
      ...(output.truncated ? ['more not shown (raise maxEntries or list a subdirectory)'] : []),
    ];
    return [notes.join('; '), ...lines].join('\n');
  },
  auditResult: (output) => ({ path: output.path, entries: output.entries.length, skipped: output.skipped, truncated: output.truncated }),
});

export const readTools = [anyTool(readFile), anyTool(readMultipleFiles), anyTool(getFileInfo), anyTool(listDirectory)];
