import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { PolicyDeniedError, ValidationError } from '../../core/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import { compileGlob, searchContent, searchFiles, searchTools } from './search-tools.js';

let ws: ToolWorkspace;
beforeEach(async () => {
  ws = await toolWorkspace();
  for (const [name, content] of Object.entries(TREE)) write(name, content);
});
afterEach(async () => {
  await ws.close();
});

const at = (name: string) => path.join(ws.root, name);
function write(name: string, content: string | Uint8Array): void {
  mkdirSync(path.dirname(at(name)), { recursive: true });
  writeFileSync(at(name), content);
}

/** A small project with secrets the policy refuses, hidden files and a binary file. */
const TREE: Record<string, string> = {
  'README.md': 'hello world\n',
  'src/app.ts': "const greeting = 'hello';\nexport function main() {\n  console.log(greeting);\n}\n",
  'src/util.ts': 'export const HELLO = 1;\n// --files is a flag, and so is -e\nconst price = a * 2;\n',
  'src/lib/deep.ts': 'export const deep = true;\n',
  'test/data/sample.json': '{ "hello": true }\n',
  'docs/guide.md': '# Guide\n',
  '.config/app.json': '{ "hello": "hidden but harmless" }\n',
  '.env': 'HELLO_TOKEN=supersecret\n',
  'server.key': 'hello supersecret private key\n',
  id_rsa: 'hello supersecret ssh key\n',
  '.ssh/config': 'hello supersecret ssh config\n',
  '.ironcode/audit.db': 'hello supersecret audit\n',
  'bin.dat': 'hello\0binary\n',
};

it('exports the search tools as read tools', () => {
  expect(searchTools.map((t) => [t.mcpName, t.risk])).toEqual([
    ['desktop_search_files', 'read'],
    ['desktop_search_content', 'read'],
  ]);
});

describe('compileGlob', () => {
  it.each([
    ['*.ts', 'src/app.ts', true],
    ['*.ts', 'app.ts', true],
    ['*.ts', 'src/app.tsx', false],
    ['*.{ts,tsx}', 'src/app.tsx', true],
    ['src/*.ts', 'src/app.ts', true],
    ['src/*.ts', 'src/lib/deep.ts', false],
    ['src/**/*.ts', 'src/app.ts', true],
    ['src/**/*.ts', 'src/lib/deep.ts', true],
    ['**/test/*.json', 'test/x.json', true],
    ['**/test/*.json', 'a/b/test/x.json', true],
    ['**/test/*.json', 'a/test/b/x.json', false],
    ['src/**', 'src/lib/deep.ts', true],
    ['./src/*.ts', 'src/app.ts', true],
    ['file?.txt', 'file1.txt', true],
    ['file?.txt', 'file10.txt', false],
    ['[ab]*.md', 'a.md', true],
    ['[!ab]*.md', 'a.md', false],
    ['[!ab]*.md', 'c.md', true],
    ['a.b', 'axb', false],
    ['(x)', '(x)', true],
    ['\\*.md', '*.md', true],
    ['\\*.md', 'a.md', false],
  ])('%s on %s → %s', (glob, relative, matches) => {
    expect(compileGlob(glob)(relative)).toBe(matches);
  });

  it.each([['!*.ts'], ['*.{ts'], ['/']])('refuses %j', (glob) => {
    expect(() => compileGlob(glob)).toThrow(ValidationError);
  });
});

describe('search_files', () => {
  type FilesOutput = z.output<typeof searchFiles.output>;

  it.each([
    ['*.ts', ['src/app.ts', 'src/lib/deep.ts', 'src/util.ts']],
    ['src/*.ts', ['src/app.ts', 'src/util.ts']],
    ['**/data/*.json', ['test/data/sample.json']],
    ['*.{md,json}', ['README.md', 'docs/guide.md', 'test/data/sample.json']],
    ['lib', ['src/lib/']],
    ['*.key', []],
    ['nothing-like-this', []],
  ])('finds %s', async (pattern, matches) => {
    const out = await ws.run<FilesOutput>(searchFiles, { path: '.', pattern });
    expect(out).toMatchObject({ root: ws.root, matches, truncated: false });
  });

  it('looks into hidden entries only when asked, and never into what the policy refuses', async () => {
    expect((await ws.run<FilesOutput>(searchFiles, { path: '.', pattern: '*.json' })).matches).toEqual(['test/data/sample.json']);
    const out = await ws.run<FilesOutput>(searchFiles, { path: '.', pattern: '*', includeHidden: true });
    expect(out.matches).toContain('.config/app.json');
    for (const secret of ['.env', 'server.key', 'id_rsa', '.ssh/', '.ssh/config', '.ironcode/', '.ironcode/audit.db']) expect(out.matches).not.toContain(secret);
    expect(out.skipped).toBe(5);
  });

  it('does not follow links to directories', async () => {
    symlinkSync(at('src'), at('src-link'));
    const out = await ws.run<FilesOutput>(searchFiles, { path: '.', pattern: '*.ts' });
    expect(out.matches).toEqual(['src/app.ts', 'src/lib/deep.ts', 'src/util.ts']);
    expect((await ws.run<FilesOutput>(searchFiles, { path: '.', pattern: 'src-*' })).matches).toEqual(['src-link']);
  });

  it('stops at maxResults and says so', async () => {
    const out = await ws.run<FilesOutput>(searchFiles, { path: '.', pattern: '*.ts', maxResults: 2 });
    expect(out).toMatchObject({ matches: ['src/app.ts', 'src/lib/deep.ts'], truncated: true });
    expect(searchFiles.text!(out)).toContain('(more not shown)');
  });

  it('refuses to search the data directory or outside the roots', async () => {
    await expect(ws.run(searchFiles, { path: ws.dataDir, pattern: '*' })).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(ws.run(searchFiles, { path: '/etc', pattern: '*' })).rejects.toBeInstanceOf(PolicyDeniedError);
  });
});

type ContentOutput = z.output<typeof searchContent.output>;

describe.each(['ripgrep', 'builtin'] as const)('search_content with the %s engine', (engine) => {
  const search = (input: Record<string, unknown>, options?: Parameters<ToolWorkspace['run']>[2]) =>
    ws.run<ContentOutput>(searchContent, { path: '.', engine, ...input }, options);
  const found = (out: ContentOutput) => out.matches.map((m) => `${m.file}:${m.line}:${m.text}`);

  if (engine === 'ripgrep') {
    beforeAll(async () => {
      const probe = await toolWorkspace();
      try {
        const judgement = await probe.context().exec.judge({ argv: ['rg', '--version'] });
        expect(judgement.decision.allowed, `ripgrep must be installed for these tests (apt-get install ripgrep): ${judgement.decision.reason}`).toBe(true);
      } finally {
        await probe.close();
      }
    });
  }

  it('finds matching lines in path order, relative to the root', async () => {
    const out = await search({ pattern: 'hello' });
    expect(out.engine).toBe(engine);
    expect(out.root).toBe(ws.root);
    expect(found(out)).toEqual(['README.md:1:hello world', "src/app.ts:1:const greeting = 'hello';", 'test/data/sample.json:1:{ "hello": true }']);
    expect(out.nextCursor).toBeUndefined();
  });

  it('never shows what the policy refuses to read, hidden files included', async () => {
    for (const includeHidden of [false, true]) {
      const out = await search({ pattern: 'hello|supersecret', ignoreCase: true, includeHidden });
      const files = out.matches.map((m) => m.file);
      expect(files).toEqual([...(includeHidden ? ['.config/app.json'] : []), 'README.md', 'src/app.ts', 'src/util.ts', 'test/data/sample.json']);
      expect(JSON.stringify(out)).not.toContain('supersecret');
      expect(searchContent.text!(out)).not.toContain('supersecret');
    }
  });

  it('skips binary files', async () => {
    expect(found(await search({ pattern: 'binary' }))).toEqual([]);
  });

  it.each([
    ['ignoreCase', { pattern: 'HELLO', ignoreCase: true }, ['README.md:1', 'src/app.ts:1', 'src/util.ts:1', 'test/data/sample.json:1']],
    ['a regular expression', { pattern: '^export (const|function)' }, ['src/app.ts:2', 'src/lib/deep.ts:1', 'src/util.ts:1']],
    ['literal text with regex characters', { pattern: 'a * 2', literal: true }, ['src/util.ts:3']],
    ['filePattern on names', { pattern: 'hello', filePattern: '*.md' }, ['README.md:1']],
    ['filePattern on paths', { pattern: 'export', filePattern: 'src/lib/**' }, ['src/lib/deep.ts:1']],
    ['an option-looking pattern', { pattern: '--files' }, ['src/util.ts:2']],
    ['an option-looking literal', { pattern: '-e', literal: true }, ['src/util.ts:2']],
    ['a pattern that would be an exec option', { pattern: '--pre=sh' }, []],
  ])('searches with %s', async (_name, input, expected) => {
    expect((await search(input)).matches.map((m) => `${m.file}:${m.line}`)).toEqual(expected);
  });

  it('adds context lines before and after', async () => {
    const out = await search({ pattern: 'console', contextLines: 1 });
    expect(out.matches).toEqual([{ file: 'src/app.ts', line: 3, text: '  console.log(greeting);', before: ['export function main() {'], after: ['}'] }]);
    expect(searchContent.text!(out)).toContain('src/app.ts-2-export function main() {\nsrc/app.ts:3:  console.log(greeting);\nsrc/app.ts-4-}');
  });

  it('searches a single file', async () => {
    const out = await search({ path: 'src/app.ts', pattern: 'greeting' });
    expect(out.root).toBe(at('src'));
    expect(found(out)).toEqual(["app.ts:1:const greeting = 'hello';", 'app.ts:3:  console.log(greeting);']);
  });

  it('refuses to search a secret file or the data directory directly', async () => {
    await expect(search({ path: '.env', pattern: 'TOKEN' })).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(search({ path: '.ironcode', pattern: 'audit' })).rejects.toBeInstanceOf(PolicyDeniedError);
  });

  it('pages through the results with a cursor', async () => {
    write('many/a.txt', Array.from({ length: 7 }, (_, i) => `needle ${i + 1}`).join('\n'));
    write('many/b.txt', 'hay\nneedle 8\nneedle 9\nneedle 10\n');
    const all = found(await search({ path: 'many', pattern: 'needle' }));
    expect(all).toHaveLength(10);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const out = await search({ path: 'many', pattern: 'needle', maxResults: 4, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(found(out));
      cursor = out.nextCursor;
    } while (cursor !== undefined);
    expect(pages.map((p) => p.length)).toEqual([4, 4, 2]);
    expect(pages.flat()).toEqual(all);
    expect(all.at(-1)).toBe('b.txt:4:needle 10');
  });

  it('refuses a cursor from another search or a made-up one', async () => {
    write('many/a.txt', 'needle\nneedle\nneedle\n');
    const first = await search({ path: 'many', pattern: 'needle', maxResults: 1 });
    expect(first.nextCursor).toBeDefined();
    await expect(search({ path: 'many', pattern: 'other', cursor: first.nextCursor })).rejects.toThrow(/different search/);
    await expect(search({ path: 'many', pattern: 'needle', cursor: 'bm9wZQ' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('rejects an invalid regular expression, naming the pattern', async () => {
    const error = await search({ pattern: 'foo(' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('pattern');
  });

  it('stops when the call is cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('caller went away'));
    await expect(search({ pattern: 'hello' }, { signal: controller.signal })).rejects.toThrow('caller went away');
  });

  it('keeps no matched text in the audit record', async () => {
    const out = await search({ pattern: 'hello' });
    expect(JSON.stringify(searchContent.auditResult!(out))).not.toContain('hello');
  });
});

describe('search_content engine choice', () => {
  it('uses ripgrep by default when it is installed and allowed', async () => {
    const out = await ws.run<ContentOutput>(searchContent, { path: '.', pattern: 'hello' });
    expect(out.engine).toBe('ripgrep');
  });

  it('falls back to the built-in engine for a pattern only JavaScript understands (look-ahead)', async () => {
    const out = await ws.run<ContentOutput>(searchContent, { path: '.', pattern: 'hello(?= world)' });
    expect(out.engine).toBe('builtin');
    expect(out.matches.map((m) => m.file)).toEqual(['README.md']);
  });

  it('keeps the engine of the first page for the next ones', async () => {
    write('many/a.txt', 'needle 1\nneedle 2\nneedle 3\n');
    const first = await ws.run<ContentOutput>(searchContent, { path: 'many', pattern: 'needle', engine: 'builtin', maxResults: 1 });
    const second = await ws.run<ContentOutput>(searchContent, { path: 'many', pattern: 'needle', maxResults: 1, cursor: first.nextCursor });
    expect(second.engine).toBe('builtin');
    expect(second.matches[0]?.line).toBe(2);
    await expect(ws.run(searchContent, { path: 'many', pattern: 'needle', engine: 'ripgrep', cursor: first.nextCursor })).rejects.toThrow(/engine/);
  });

  it('stops a catastrophically backtracking pattern in the built-in engine instead of hanging', async () => {
    write('redos.txt', `${'a'.repeat(40)}!\n`);
    const started = Date.now();
    const error = await ws.run(searchContent, { path: 'redos.txt', pattern: '^(a+)+$', engine: 'builtin' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/backtracks/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports progress of the built-in engine in files searched', async () => {
    for (let i = 0; i < 120; i++) write(`bulk/f${String(i).padStart(3, '0')}.txt`, 'x\n');
    const onProgress = vi.fn();
    const out = await ws.run<ContentOutput>(searchContent, { path: 'bulk', pattern: 'nothing', engine: 'builtin' }, { onProgress });
    expect(out.filesSearched).toBe(120);
    expect(onProgress).toHaveBeenCalledWith(100, undefined, '100 files searched');
  });
});
