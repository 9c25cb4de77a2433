import { describe, expect, it } from 'vitest';
import {
  SNIFF_BYTES,
  bufferSource,
  countLines,
  decodeText,
  guessMime,
  lineEndingOf,
  looksBinary,
  readLineWindow,
  withLineEnding,
  type LineWindowRequest,
} from './text-file.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('looksBinary', () => {
  it.each([
    ['plain ASCII', bytes('hello\nworld\n'), false],
    ['UTF-8 text', bytes('grüße — 日本語\n'), false],
    ['empty', bytes(''), false],
    ['a NUL byte', Buffer.from([0x61, 0x00, 0x62]), true],
    ['invalid UTF-8', Buffer.from([0x61, 0xff, 0xfe, 0x62]), true],
    ['a PNG header', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), true],
  ])('%s → %s', (_name, data, binary) => {
    expect(looksBinary(data)).toBe(binary);
  });

  it('does not count a character cut by the end of the sample against the file', () => {
    const text = `${'a'.repeat(SNIFF_BYTES - 1)}é and more`;
    expect(looksBinary(bytes(text))).toBe(false);
  });

  it('only looks at the first 8 KiB', () => {
    const data = Buffer.concat([bytes('a'.repeat(SNIFF_BYTES)), Buffer.from([0])]);
    expect(looksBinary(data)).toBe(false);
  });
});

describe('guessMime', () => {
  it.each([
    ['x.bin', [0x89, 0x50, 0x4e, 0x47], 'image/png'],
    ['x', [0x7f, 0x45, 0x4c, 0x46], 'application/x-executable'],
    ['x.gz', [0x1f, 0x8b, 0x08], 'application/gzip'],
    ['photo.JPG', [0x00, 0x01], 'image/jpeg'],
    ['data', [0x00, 0x01], 'application/octet-stream'],
  ])('%s → %s', (name, head, mime) => {
    expect(guessMime(name, Uint8Array.from(head))).toBe(mime);
  });
});

describe('line helpers', () => {
  it.each([
    ['', 0],
    ['a', 1],
    ['a\n', 1],
    ['a\nb', 2],
    ['a\nb\n', 2],
    ['a\r\nb\r\n', 2],
    ['\n\n', 2],
  ])('countLines(%j) = %d', (text, lines) => {
    expect(countLines(text)).toBe(lines);
  });

  it.each([
    ['a\nb', 'lf'],
    ['a\r\nb\r\n', 'crlf'],
    ['a\r\nb\n', 'mixed'],
    ['a\rb', 'none'],
    ['', 'none'],
  ] as const)('lineEndingOf(%j) = %s', (text, ending) => {
    expect(lineEndingOf(text)).toBe(ending);
  });

  it('rewrites line breaks in one style and leaves a lone CR alone', () => {
    expect(withLineEnding('a\nb\r\nc\rd', 'crlf')).toBe('a\r\nb\r\nc\rd');
    expect(withLineEnding('a\nb\r\nc\rd', 'lf')).toBe('a\nb\nc\rd');
  });

  it('decodes UTF-8 and drops a BOM', () => {
    expect(decodeText(Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]))).toBe('hi');
  });
});

describe('readLineWindow', () => {
  const numbered = (n: number, ending = '\n') => Array.from({ length: n }, (_, i) => `line ${i + 1}${ending}`).join('');
  const base: Omit<LineWindowRequest, 'offset'> = { maxBytes: 1 << 20, countLimit: 1 << 20, chunkBytes: 7 };
  const window = async (text: string, request: Partial<LineWindowRequest> & { offset: number }) => {
    const result = await readLineWindow(bufferSource(bytes(text)), { ...base, ...request });
    return { ...result, text: Buffer.from(result.data).toString('utf8') };
  };

  it.each([
    // [name, file, request, expected text, startLine, linesReturned]
    ['the whole file', numbered(3), { offset: 0 }, numbered(3), 1, 3],
    ['a range', numbered(10), { offset: 2, length: 3 }, 'line 3\nline 4\nline 5\n', 3, 3],
    ['the tail', numbered(10), { offset: -2 }, 'line 9\nline 10\n', 9, 2],
    ['the tail, first lines of it', numbered(10), { offset: -4, length: 2 }, 'line 7\nline 8\n', 7, 2],
    ['a tail longer than the file', numbered(3), { offset: -50 }, numbered(3), 1, 3],
    ['a tail without a final line break', 'a\nb\nc', { offset: -2 }, 'b\nc', 2, 2],
    ['a last line without a line break', 'a\nb', { offset: 1 }, 'b', 2, 1],
    ['an offset past the end', numbered(3), { offset: 3 }, '', 4, 0],
    ['an empty file', '', { offset: 0 }, '', 1, 0],
    ['an empty file from the end', '', { offset: -5 }, '', 1, 0],
    ['CRLF lines, endings kept', numbered(4, '\r\n'), { offset: 1, length: 2 }, 'line 2\r\nline 3\r\n', 2, 2],
    ['CRLF tail', numbered(4, '\r\n'), { offset: -1 }, 'line 4\r\n', 4, 1],
  ])('%s', async (_name, file, request, text, startLine, linesReturned) => {
    const result = await window(file, request);
    expect(result.text).toBe(text);
    expect(result.startLine).toBe(startLine);
    expect(result.linesReturned).toBe(linesReturned);
    expect(result.truncated).toBe(false);
    expect(result.totalLines).toBe(countLines(file));
  });

  it('cuts at maxBytes on a line boundary and says so', async () => {
    const result = await window(numbered(10), { offset: 0, maxBytes: 20 });
    expect(result.text).toBe('line 1\nline 2\n');
    expect(result.linesReturned).toBe(2);
    expect(result.truncated).toBe(true);
  });

  it('is not truncated when the content fits maxBytes exactly', async () => {
    const result = await window('abc\n', { offset: 0, maxBytes: 4 });
    expect(result).toMatchObject({ text: 'abc\n', truncated: false, linesReturned: 1 });
  });

  it('cuts one line longer than maxBytes at a character boundary', async () => {
    const result = await window(`${'é'.repeat(10)}\n`, { offset: 0, maxBytes: 5 });
    expect(result.text).toBe('éé');
    expect(result.truncated).toBe(true);
    expect(result.linesReturned).toBe(1);
  });

  it('returns nothing but says truncated when maxBytes is 0', async () => {
    expect(await window('abc', { offset: 0, maxBytes: 0 })).toMatchObject({ text: '', linesReturned: 0, truncated: true });
  });

  it('does not count the lines of a file over countLimit, except by reading past its end', async () => {
    const file = numbered(100);
    const head = await window(file, { offset: 0, length: 2, countLimit: 10 });
    expect(head.totalLines).toBeUndefined();
    expect(head.text).toBe('line 1\nline 2\n');
    const tail = await window(file, { offset: -1, countLimit: 10 });
    expect(tail.startLine).toBeUndefined();
    expect(tail.text).toBe('line 100\n');
    const past = await window(file, { offset: 500, countLimit: 10 });
    expect(past.totalLines).toBe(100);
  });

  it('reads only what it needs of a large file going forward', async () => {
    const data = bytes(numbered(10_000));
    let read = 0;
    const source = { size: data.length, read: async (position: number, length: number) => ((read += length), data.subarray(position, position + length)) };
    const result = await readLineWindow(source, { offset: 0, length: 3, maxBytes: 1 << 20, countLimit: 0 });
    expect(result.linesReturned).toBe(3);
    expect(read).toBeLessThan(70_000);
  });

  it('reads the tail of a large file from the end', async () => {
    const data = bytes(numbered(10_000));
    let lowest = data.length;
    const source = {
      size: data.length,
      read: async (position: number, length: number) => {
        lowest = Math.min(lowest, position);
        return data.subarray(position, position + length);
      },
    };
    const result = await readLineWindow(source, { offset: -3, maxBytes: 1 << 20, countLimit: 0 });
    expect(Buffer.from(result.data).toString()).toBe('line 9998\nline 9999\nline 10000\n');
    expect(lowest).toBeGreaterThan(data.length - 70_000);
  });

  it('stops when the signal fires', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(readLineWindow(bufferSource(bytes(numbered(100))), { offset: 50, maxBytes: 100, countLimit: 0, chunkBytes: 8, signal: controller.signal })).rejects.toThrow('stop');
  });
});
