/**
 * What the file tools need to know about text, kept free of I/O: whether bytes are
 * text at all, what kind of binary they look like, where lines begin, and how to
 * take a range of lines out of a file through positioned reads (so the tail of a
 * large log never means reading all of it).
 */
import path from 'node:path';

/** How much of a file's head decides whether it is text, as git and ripgrep also sniff a prefix. */
export const SNIFF_BYTES = 8192;

const NEWLINE = 0x0a;

/**
 * Binary means a NUL byte or invalid UTF-8 in the first SNIFF_BYTES. A multi-byte
 * character cut off by the end of the sample is not counted against it.
 */
export function looksBinary(head: Uint8Array): boolean {
  const sample = head.subarray(0, SNIFF_BYTES);
  if (sample.includes(0)) return true;
  try {
    // stream: true leaves an incomplete sequence at the end of the sample pending instead of failing on it.
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: sample.length === SNIFF_BYTES });
    return false;
  } catch {
    return true;
  }
}

const MAGIC: readonly { bytes: readonly number[]; offset?: number; mime: string }[] = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], mime: 'image/png' },
  { bytes: [0xff, 0xd8, 0xff], mime: 'image/jpeg' },
  { bytes: [0x47, 0x49, 0x46, 0x38], mime: 'image/gif' },
  { bytes: [0x52, 0x49, 0x46, 0x46], mime: 'application/x-riff' },
  { bytes: [0x25, 0x50, 0x44, 0x46], mime: 'application/pdf' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], mime: 'application/zip' },
  { bytes: [0x1f, 0x8b], mime: 'application/gzip' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], mime: 'application/zstd' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], mime: 'application/x-xz' },
  { bytes: [0x42, 0x5a, 0x68], mime: 'application/x-bzip2' },
  { bytes: [0x75, 0x73, 0x74, 0x61, 0x72], offset: 257, mime: 'application/x-tar' },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], mime: 'application/x-executable' },
  { bytes: [0x00, 0x61, 0x73, 0x6d], mime: 'application/wasm' },
  { bytes: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65], mime: 'application/vnd.sqlite3' },
  { bytes: [0xca, 0xfe, 0xba, 0xbe], mime: 'application/java-vm' },
];

const BY_EXTENSION: Readonly<Record<string, string>> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.ico': 'image/x-icon', '.pdf': 'application/pdf', '.zip': 'application/zip', '.gz': 'application/gzip',
  '.tgz': 'application/gzip', '.tar': 'application/x-tar', '.wasm': 'application/wasm', '.sqlite': 'application/vnd.sqlite3',
  '.db': 'application/octet-stream', '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4', '.class': 'application/java-vm', '.jar': 'application/java-archive', '.so': 'application/x-sharedlib',
};

/** A best guess of a binary file's type from its magic bytes, then its extension; the model only needs a hint. */
export function guessMime(name: string, head: Uint8Array): string {
  for (const magic of MAGIC) {
    const at = magic.offset ?? 0;
    if (magic.bytes.every((byte, i) => head[at + i] === byte)) return magic.mime;
  }
  return BY_EXTENSION[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export type LineEnding = 'lf' | 'crlf' | 'mixed' | 'none';

/** The line ending style of a text: CRLF only, LF only, both, or no line breaks at all. */
export function lineEndingOf(text: string): LineEnding {
  let crlf = 0;
  let lf = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (i > 0 && text.charCodeAt(i - 1) === 0x0d) crlf++;
    else lf++;
    if (crlf > 0 && lf > 0) return 'mixed';
  }
  return crlf > 0 ? 'crlf' : lf > 0 ? 'lf' : 'none';
}

/** Rewrites every line break (CRLF or LF; a lone CR is not one) in the given style. */
export function withLineEnding(text: string, ending: 'lf' | 'crlf'): string {
  return text.replace(/\r?\n/g, ending === 'crlf' ? '\r\n' : '\n');
}

/**
 * Lines in a text as editors count them: a final line break ends the last line
 * rather than starting an empty one, so "a\nb\n" and "a\nb" both have 2 lines.
 */
export function countLines(text: string): number {
  if (text === '') return 0;
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  return text.endsWith('\n') ? lines : lines + 1;
}

/** The largest cut at or before `at` that does not split a UTF-8 sequence. */
function utf8Cut(buffer: Uint8Array, at: number): number {
  let cut = Math.min(at, buffer.length);
  while (cut > 0 && cut < buffer.length && ((buffer[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return cut;
}

/** Random access to a file's bytes: what GuardedFs.readWith lends, or a buffer in tests. */
export interface ByteSource {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

export interface LineWindowRequest {
  /** 0-based line to start at; negative counts from the end (-10: the last 10 lines). */
  offset: number;
  /** At most this many lines; all that fit by default. */
  length?: number;
  /** At most this many bytes of content (0: none, truncated when there was some). */
  maxBytes: number;
  /** Count all lines of files up to this size, even when the window ends earlier. */
  countLimit: number;
  /** Bytes per read. */
  chunkBytes?: number;
  signal?: AbortSignal;
}

export interface LineWindow {
  /** The raw bytes of the window, line endings untouched. */
  data: Uint8Array;
  /** 1-based number of the first line returned (when the offset is past the end: the line after the last); unknown for the tail of a file too large to count. */
  startLine?: number;
  linesReturned: number;
  /** Known when the whole file was scanned. */
  totalLines?: number;
  /** The window stopped at maxBytes before the lines asked for (a line longer than maxBytes is cut). */
  truncated: boolean;
}

const DEFAULT_CHUNK = 64 * 1024;

/**
 * Takes lines [offset, offset + length) of a file through positioned reads, capped at
 * maxBytes. Going forward it reads only up to the end of the window (and on to the
 * end to count lines when the file is at most countLimit bytes); a negative offset
 * reads backwards from the end, like `tail -n`.
 */
export async function readLineWindow(source: ByteSource, request: LineWindowRequest): Promise<LineWindow> {
  const chunk = request.chunkBytes ?? DEFAULT_CHUNK;
  const counted = source.size <= request.countLimit ? await countFileLines(source, chunk, request.signal) : undefined;
  let start: number;
  let startLine: number | undefined;
  if (request.offset >= 0) {
    const found = await forwardLineStart(source, request.offset, chunk, request.signal);
    startLine = request.offset + 1;
    if (found.start === null) {
      // Past the end: the scan that ran off the end of the file has counted its lines.
      return { data: new Uint8Array(0), startLine, linesReturned: 0, totalLines: counted ?? found.lines, truncated: false };
    }
    start = found.start;
  } else {
    start = await backwardLineStart(source, -request.offset, chunk, request.signal);
    if (counted !== undefined) {
      const before = start === 0 ? 0 : await countLinesBefore(source, start, chunk, request.signal);
      startLine = before + 1;
    }
  }
  const window = await collectLines(source, start, request.length ?? Number.POSITIVE_INFINITY, request.maxBytes, chunk, request.signal);
  return {
    data: window.data,
    ...(startLine === undefined ? {} : { startLine }),
    linesReturned: window.lines,
    ...(counted === undefined ? {} : { totalLines: counted }),
    truncated: window.truncated,
  };
}

/**
 * Byte position where 0-based line `offset` begins, or null when the file has fewer
 * lines; then `lines` is how many it has.
 */
async function forwardLineStart(source: ByteSource, offset: number, chunk: number, signal?: AbortSignal): Promise<{ start: number | null; lines: number }> {
  if (offset === 0) return { start: source.size === 0 ? null : 0, lines: 0 };
  let seen = 0;
  let last = NEWLINE;
  for (let position = 0; position < source.size; ) {
    signal?.throwIfAborted();
    const bytes = await source.read(position, Math.min(chunk, source.size - position));
    if (bytes.length === 0) break;
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) {
      if (++seen === offset && position + i + 1 < source.size) return { start: position + i + 1, lines: seen };
    }
    last = bytes[bytes.length - 1]!;
    position += bytes.length;
  }
  return { start: null, lines: last === NEWLINE ? seen : seen + 1 };
}

/** Byte position where the last `lines` lines begin (0 when the file has no more than that). */
async function backwardLineStart(source: ByteSource, lines: number, chunk: number, signal?: AbortSignal): Promise<number> {
  // The final line break ends the last line; it does not start another one.
  let end = source.size;
  if (end > 0) {
    const last = await source.read(end - 1, 1);
    if (last[0] === NEWLINE) end -= 1;
  }
  let seen = 0;
  for (let position = end; position > 0; ) {
    signal?.throwIfAborted();
    const from = Math.max(0, position - chunk);
    const bytes = await source.read(from, position - from);
    for (let i = bytes.lastIndexOf(NEWLINE); i !== -1; i = i === 0 ? -1 : bytes.lastIndexOf(NEWLINE, i - 1)) {
      if (++seen === lines) return from + i + 1;
    }
    position = from;
  }
  return 0;
}

async function countFileLines(source: ByteSource, chunk: number, signal?: AbortSignal): Promise<number> {
  if (source.size === 0) return 0;
  const breaks = await countLinesBefore(source, source.size, chunk, signal);
  const last = await source.read(source.size - 1, 1);
  return last[0] === NEWLINE ? breaks : breaks + 1;
}

/** Line breaks in bytes [0, end). */
async function countLinesBefore(source: ByteSource, end: number, chunk: number, signal?: AbortSignal): Promise<number> {
  let breaks = 0;
  for (let position = 0; position < end; ) {
    signal?.throwIfAborted();
    const bytes = await source.read(position, Math.min(chunk, end - position));
    if (bytes.length === 0) break;
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) breaks++;
    position += bytes.length;
  }
  return breaks;
}

/** Up to `maxLines` whole lines from `start`, ending at a line break unless one line alone is over maxBytes. */
async function collectLines(
  source: ByteSource,
  start: number,
  maxLines: number,
  maxBytes: number,
  chunk: number,
  signal?: AbortSignal,
): Promise<{ data: Uint8Array; lines: number; truncated: boolean }> {
  if (maxBytes <= 0) return { data: new Uint8Array(0), lines: 0, truncated: start < source.size };
  const parts: Uint8Array[] = [];
  let taken = 0;
  let lines = 0;
  let position = start;
  // One byte past the cap tells "exactly maxBytes" from "more than maxBytes".
  const budget = maxBytes + 1;
  while (position < source.size && lines < maxLines && taken < budget) {
    signal?.throwIfAborted();
    const bytes = await source.read(position, Math.min(chunk, source.size - position, budget - taken));
    if (bytes.length === 0) break;
    let end = bytes.length;
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) {
      if (++lines === maxLines) {
        end = i + 1;
        break;
      }
    }
    parts.push(bytes.subarray(0, end));
    taken += end;
    position += end;
  }
  const data = concat(parts, taken);
  if (taken <= maxBytes) {
    // A last line without a line break (the end of the file) still counts.
    const partial = data.length > 0 && data[data.length - 1] !== NEWLINE && lines < maxLines ? 1 : 0;
    return { data, lines: lines + partial, truncated: false };
  }
  // Over the cap: keep whole lines if any fit, else cut the one long line at a character boundary.
  const lastBreak = data.subarray(0, maxBytes).lastIndexOf(NEWLINE);
  if (lastBreak !== -1) {
    const kept = data.subarray(0, lastBreak + 1);
    return { data: kept, lines: countBreaks(kept), truncated: true };
  }
  return { data: data.subarray(0, utf8Cut(data, maxBytes)), lines: 1, truncated: true };
}

function countBreaks(bytes: Uint8Array): number {
  let breaks = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) breaks++;
  return breaks;
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A byte source over memory, for text already read (and for tests). */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (position, length) => bytes.subarray(position, position + length) };
}

/** Decodes UTF-8 (invalid bytes past the sniffed head become U+FFFD; a BOM is dropped). */
export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}
