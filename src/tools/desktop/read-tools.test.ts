import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { IronError, NotFoundError, PolicyDeniedError, ValidationError } from '../../core/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import type { ToolContext } from '../context.js';
import { getFileInfo, listDirectory, readFile, readMultipleFiles, readTools } from './read-tools.js';

let ws: ToolWorkspace;
beforeEach(async () => {
  ws = await toolWorkspace();
});
afterEach(async () => {
  await ws.close();
});

const at = (name: string) => path.join(ws.root, name);
const write = (name: string, content: string | Uint8Array) => {
  mkdirSync(path.dirname(at(name)), { recursive: true });
  writeFileSync(at(name), content);
};
const numbered = (n: number, ending = '\n') => Array.from({ length: n }, (_, i) => `line ${i + 1}${ending}`).join('');
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]);

type ReadOutput = z.output<typeof readFile.output>;

it('exports every read tool under the desktop server', () => {
  expect(readTools.map((t) => t.mcpName)).toEqual(['desktop_read_file', 'desktop_read_multiple_files', 'desktop_get_file_info', 'desktop_list_directory']);
  expect(readTools.every((t) => t.risk === 'read' && t.annotations.readOnly)).toBe(true);
});

describe('read_file', () => {
  it.each([
    ['the whole file', {}, numbered(10), 1, 10],
    ['a range', { offset: 2, length: 3 }, 'line 3\nline 4\nline 5\n', 3, 3],
    ['the last lines (negative offset)', { offset: -3 }, 'line 8\nline 9\nline 10\n', 8, 3],
    ['the first of the last lines', { offset: -3, length: 1 }, 'line 8\n', 8, 1],
    ['past the end', { offset: 50 }, '', 51, 0],
  ])('reads %s', async (_name, range, content, startLine, linesReturned) => {
    write('ten.txt', numbered(10));
    const out = await ws.run<ReadOutput>(readFile, { path: 'ten.txt', ...range });
    expect(out).toMatchObject({ path: at('ten.txt'), content, startLine, linesReturned, totalLines: 10, truncated: false, binary: false });
  });

  it('says which lines it returned, of how many, and where', async () => {
    write('ten.txt', numbered(10));
    const out = await ws.run<ReadOutput>(readFile, { path: 'ten.txt', offset: 2, length: 3 });
    expect(readFile.text!(out)).toBe(`lines 3–5 of 10 of ${at('ten.txt')}\nline 3\nline 4\nline 5\n`);
  });

  it('caps the text at 1 MiB by default and says where to continue', async () => {
    const line = `${'x'.repeat(99)}\n`;
    write('big.txt', line.repeat(30_000)); // 3 MB
    const out = await ws.run<ReadOutput>(readFile, { path: 'big.txt' });
    expect(out.truncated).toBe(true);
    expect(out.content.length).toBeLessThanOrEqual(1024 * 1024);
    expect(out.content.endsWith('\n')).toBe(true);
    expect(out.linesReturned).toBe(Math.floor((1024 * 1024) / 100));
    expect(out.totalLines).toBe(30_000);
    expect(readFile.text!(out)).toContain(`continue with offset ${out.linesReturned}`);
  });

  it('takes a smaller or larger cap per call, up to the hard cap of 10 MiB', async () => {
    write('ten.txt', numbered(10));
    const out = await ws.run<ReadOutput>(readFile, { path: 'ten.txt', maxBytes: 14 });
    expect(out).toMatchObject({ content: 'line 1\nline 2\n', linesReturned: 2, truncated: true });
    await expect(ws.run(readFile, { path: 'ten.txt', maxBytes: 10 * 1024 * 1024 + 1 })).rejects.toThrow();
  });

  it.each([
    ['a PNG image', PNG, 'image/png'],
    ['a NUL byte in text', Buffer.from('hello\0world'), 'application/octet-stream'],
    ['invalid UTF-8', Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x0a]), 'application/octet-stream'],
  ])('does not return the content of a binary file: %s', async (_name, data, mime) => {
    write('blob.bin', data);
    const out = await ws.run<ReadOutput>(readFile, { path: 'blob.bin' });
    expect(out).toMatchObject({ binary: true, content: '', size: data.length, mime });
    expect(readFile.text!(out)).toMatch(/is a binary file \(.+\); its content is not shown/);
  });

  it('counts CRLF lines as lines and returns them untouched', async () => {
    write('dos.txt', numbered(4, '\r\n'));
    const out = await ws.run<ReadOutput>(readFile, { path: 'dos.txt', offset: 1, length: 2 });
    expect(out).toMatchObject({ content: 'line 2\r\nline 3\r\n', startLine: 2, linesReturned: 2, totalLines: 4 });
    const tail = await ws.run<ReadOutput>(readFile, { path: 'dos.txt', offset: -1 });
    expect(tail.content).toBe('line 4\r\n');
  });

  it('reads UTF-8 text, including a file without a final line break', async () => {
    write('utf8.txt', 'grüße\n日本語');
    const out = await ws.run<ReadOutput>(readFile, { path: 'utf8.txt' });
    expect(out).toMatchObject({ content: 'grüße\n日本語', linesReturned: 2, totalLines: 2, binary: false });
  });

  it('says how many lines there are when the offset is past the end', async () => {
    write('ten.txt', numbered(10));
    const out = await ws.run<ReadOutput>(readFile, { path: 'ten.txt', offset: 50 });
    expect(readFile.text!(out)).toBe(`no lines from line 51 of ${at('ten.txt')}: it has 10 lines`);
  });

  it('reports an empty file as empty', async () => {
    write('empty.txt', '');
    const out = await ws.run<ReadOutput>(readFile, { path: 'empty.txt' });
    expect(out).toMatchObject({ content: '', linesReturned: 0, totalLines: 0, size: 0 });
    expect(readFile.text!(out)).toBe(`${at('empty.txt')} is empty`);
  });

  it.each([
    ['a secret', '.env', PolicyDeniedError],
    ['a private key', 'deploy.key', PolicyDeniedError],
    ['the data directory', '.ironcode/keys.json', PolicyDeniedError],
    ['a missing file', 'nope.txt', NotFoundError],
    ['a directory', 'sub', ValidationError],
    ['a path outside the roots', '/etc/passwd', PolicyDeniedError],
  ])('refuses %s', async (_name, target, error) => {
    write('.env', 'TOKEN=secret\n');
    write('deploy.key', 'PRIVATE\n');
    write('.ironcode/keys.json', '{}');
    mkdirSync(at('sub'));
    await expect(ws.run(readFile, { path: target })).rejects.toBeInstanceOf(error);
  });

  it('keeps only sizes and counts in the audit record', async () => {
    write('ten.txt', numbered(10));
    const out = await ws.run<ReadOutput>(readFile, { path: 'ten.txt' });
    expect(JSON.stringify(readFile.auditResult!(out))).not.toContain('line 1');
  });
});

describe('read_multiple_files', () => {
  type MultiOutput = z.output<typeof readMultipleFiles.output>;

  it('reports each failure in its own entry without failing the others', async () => {
    write('a.txt', 'alpha\n');
    write('b.txt', 'beta\n');
    write('.env', 'TOKEN=secret\n');
    write('img.png', PNG);
    mkdirSync(at('dir'));
    const out = await ws.run<MultiOutput>(readMultipleFiles, { paths: ['a.txt', 'missing.txt', '.env', 'dir', 'img.png', 'b.txt'] });
    expect(out.files.map((f) => [f.path, f.content ?? null, f.code ?? null, f.binary])).toEqual([
      ['a.txt', 'alpha\n', null, false],
      ['missing.txt', null, 'IRON_NOT_FOUND', false],
      ['.env', null, 'IRON_POLICY_DENIED', false],
      ['dir', null, 'IRON_VALIDATION', false],
      ['img.png', null, null, true],
      ['b.txt', 'beta\n', null, false],
    ]);
    expect(out.files[1]!.error).toContain('does not exist');
    const text = readMultipleFiles.text!(out);
    expect(text).toContain('== a.txt (1 line)\nalpha');
    expect(JSON.stringify(out)).not.toContain('TOKEN');
  });

  it('caps each file at maxBytesPerFile', async () => {
    write('ten.txt', numbered(10));
    const out = await ws.run<MultiOutput>(readMultipleFiles, { paths: ['ten.txt'], maxBytesPerFile: 14 });
    expect(out.files[0]).toMatchObject({ content: 'line 1\nline 2\n', truncated: true, totalLines: 10 });
  });

  it('refuses an empty list and more than 50 paths', async () => {
    await expect(ws.run(readMultipleFiles, { paths: [] })).rejects.toThrow();
    await expect(ws.run(readMultipleFiles, { paths: Array.from({ length: 51 }, (_, i) => `${i}.txt`) })).rejects.toThrow();
  });

  it('keeps no content in the audit record', async () => {
    write('a.txt', 'alpha\n');
    const out = await ws.run<MultiOutput>(readMultipleFiles, { paths: ['a.txt', 'nope'] });
    expect(readMultipleFiles.auditResult!(out)).toEqual({ files: 2, failed: 1, bytes: 6 });
  });
});

describe('get_file_info', () => {
  it('describes a small text file with its line count', async () => {
    write('ten.txt', numbered(10));
    const out = await ws.run<Record<string, unknown>>(getFileInfo, { path: 'ten.txt' });
    expect(out).toMatchObject({ path: at('ten.txt'), type: 'file', size: numbered(10).length, lines: 10, binary: false });
    expect(out.mode).toMatch(/^[0-7]{3,4}$/);
  });

  it('describes a binary file without counting lines', async () => {
    write('img.png', PNG);
    expect(await ws.run(getFileInfo, { path: 'img.png' })).toMatchObject({ type: 'file', binary: true, mime: 'image/png' });
  });

  it('describes a link itself, without following it', async () => {
    write('target.txt', 'x');
    symlinkSync('target.txt', at('link'));
    const out = await ws.run<Record<string, unknown>>(getFileInfo, { path: 'link' });
    expect(out).toMatchObject({ path: at('link'), type: 'symlink', linkTarget: 'target.txt' });
    expect(out.lines).toBeUndefined();
  });

  it('describes the workspace root itself', async () => {
    expect(await ws.run(getFileInfo, { path: '.' })).toMatchObject({ path: ws.root, type: 'directory' });
  });

  it('describes a directory and refuses a secret', async () => {
    mkdirSync(at('sub'));
    write('.env', 'TOKEN=x');
    expect(await ws.run(getFileInfo, { path: 'sub' })).toMatchObject({ type: 'directory' });
    await expect(ws.run(getFileInfo, { path: '.env' })).rejects.toBeInstanceOf(PolicyDeniedError);
  });
});

describe('list_directory', () => {
  type ListOutput = z.output<typeof listDirectory.output>;

  beforeEach(() => {
    write('README.md', 'hello\n');
    write('src/index.ts', 'export {};\n');
    write('src/lib/util.ts', 'export const x = 1;\n');
    write('.env', 'TOKEN=secret\n');
    write('.ssh/id_ed25519', 'KEY');
    write('.ironcode/audit.db', 'AUDIT');
    write('.gitignore', 'dist\n');
  });

  it.each([
    [1, ['.gitignore', 'README.md', 'src']],
    [2, ['.gitignore', 'README.md', 'src', 'src/index.ts', 'src/lib']],
    [3, ['.gitignore', 'README.md', 'src', 'src/index.ts', 'src/lib', 'src/lib/util.ts']],
  ])('lists %d level(s) deep, leaving out what the policy refuses', async (depth, paths) => {
    const out = await ws.run<ListOutput>(listDirectory, { path: '.', depth });
    expect(out.path).toBe(ws.root);
    expect(out.entries.map((e) => e.path)).toEqual(paths);
    // .env, .ssh and the data directory (ws.dataDir) are neither listed nor entered.
    expect(out.skipped).toBe(3);
    expect(JSON.stringify(out)).not.toMatch(/\.env|\.ssh|\.ironcode|id_ed25519/);
  });

  it('gives types and, when asked, file sizes', async () => {
    const out = await ws.run<ListOutput>(listDirectory, { path: '.', depth: 2, includeSizes: true });
    expect(out.entries.find((e) => e.path === 'README.md')).toEqual({ path: 'README.md', type: 'file', size: 6 });
    expect(out.entries.find((e) => e.path === 'src')).toEqual({ path: 'src', type: 'directory' });
  });

  it('does not follow a link to a directory', async () => {
    symlinkSync(at('src'), at('linked'));
    const out = await ws.run<ListOutput>(listDirectory, { path: '.', depth: 3 });
    expect(out.entries.find((e) => e.path === 'linked')).toEqual({ path: 'linked', type: 'symlink' });
    expect(out.entries.some((e) => e.path.startsWith('linked/'))).toBe(false);
  });

  it('stops at maxEntries and says so', async () => {
    const out = await ws.run<ListOutput>(listDirectory, { path: '.', depth: 3, maxEntries: 2 });
    expect(out.entries).toHaveLength(2);
    expect(out.truncated).toBe(true);
    expect(listDirectory.text!(out)).toContain('more not shown');
  });

  it('does not fail for one child it cannot list', async () => {
    const base = ws.context();
    const unreadable = at('src/lib');
    const ctx: ToolContext = {
      ...base,
      fs: {
        ...base.fs,
        list: async (raw: string) => {
          if (raw === unreadable) throw new IronError('forbidden', `the operating system refused access to ${raw}`);
          return base.fs.list(raw);
        },
      },
    };
    const out = (await listDirectory.run(ctx, listDirectory.input.parse({ path: '.', depth: 3 }))) as ListOutput;
    expect(out.entries.find((e) => e.path === 'src/lib')).toMatchObject({ type: 'directory', error: expect.stringContaining('refused access') });
    expect(out.entries.some((e) => e.path === 'src/index.ts')).toBe(true);
  });

  it('refuses to list the data directory or a path outside the roots', async () => {
    await expect(ws.run(listDirectory, { path: ws.dataDir })).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(ws.run(listDirectory, { path: '/root' })).rejects.toBeInstanceOf(PolicyDeniedError);
  });

  it('renders a readable listing', async () => {
    const out = await ws.run<ListOutput>(listDirectory, { path: '.', depth: 2 });
    expect(listDirectory.text!(out)).toBe(
      [`5 entries in ${ws.root}; 3 hidden by the safety policy`, '[FILE] .gitignore', '[FILE] README.md', '[DIR ] src/', '[FILE] src/index.ts', '[DIR ] src/lib/'].join('\n'),
    );
  });
});
