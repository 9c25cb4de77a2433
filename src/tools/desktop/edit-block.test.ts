import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { PolicyDeniedError, ValidationError } from '../../core/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import { editBlock, editTools } from './edit-block.js';

let ws: ToolWorkspace;
beforeEach(async () => {
  ws = await toolWorkspace();
});
afterEach(async () => {
  await ws.close();
});

const at = (name: string) => path.join(ws.root, name);
const bytesOf = (name: string) => readFileSync(at(name));

type EditOutput = z.output<typeof editBlock.output>;

const SOURCE = [
  'import { x } from "./x.js";',
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

/** Runs edit_block expecting it to fail, and checks the file was not touched at all. */
async function failedEdit(file: string, input: Record<string, unknown>): Promise<ValidationError> {
  const before = bytesOf(file);
  const mtime = statSync(at(file)).mtimeMs;
  const error = await ws.run(editBlock, { path: file, ...input }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  expect(bytesOf(file).equals(before)).toBe(true);
  expect(statSync(at(file)).mtimeMs).toBe(mtime);
  return error as ValidationError;
}

it('is one write tool', () => {
  expect(editTools.map((t) => [t.mcpName, t.risk])).toEqual([['desktop_edit_block', 'write']]);
});

describe('edit_block applies an exact edit', () => {
  it('replaces the one occurrence, writes atomically and returns a small diff', async () => {
    writeFileSync(at('a.ts'), SOURCE);
    chmodSync(at('a.ts'), 0o640);
    const out = await ws.run<EditOutput>(editBlock, { path: 'a.ts', oldText: '  const doubled = a * 2;', newText: '  const doubled = a * 3;' });
    expect(out).toMatchObject({ path: at('a.ts'), replacements: 1, lineEndingsAdapted: false });
    expect(readFileSync(at('a.ts'), 'utf8')).toBe(SOURCE.replace('a * 2', 'a * 3'));
    expect(out.diff).toBe(
      [`--- ${at('a.ts')}`, `+++ ${at('a.ts')}`, '@@ -2,5 +2,5 @@', ' ', ' export function alpha(a: number): number {', '-  const doubled = a * 2;', '+  const doubled = a * 3;', '   return doubled + 1;', ' }', ''].join('\n'),
    );
    expect(statSync(at('a.ts')).mode & 0o777).toBe(0o640);
    expect(readdirSync(ws.root)).toEqual(['a.ts']);
    expect(editBlock.text!(out)).toMatch(/^Edited .*a\.ts: 1 replacement\n---/);
    expect(editBlock.auditResult!(out)).toEqual({ path: at('a.ts'), replacements: 1, changedLines: 2 });
  });

  it('replaces every occurrence when as many are expected', async () => {
    writeFileSync(at('b.txt'), 'foo\nbar\nfoo\n');
    const out = await ws.run<EditOutput>(editBlock, { path: 'b.txt', oldText: 'foo', newText: 'baz', expectedReplacements: 2 });
    expect(out.replacements).toBe(2);
    expect(readFileSync(at('b.txt'), 'utf8')).toBe('baz\nbar\nbaz\n');
  });

  it('deletes text when newText is empty', async () => {
    writeFileSync(at('c.txt'), 'keep\ndrop\nkeep\n');
    await ws.run(editBlock, { path: 'c.txt', oldText: 'drop\n', newText: '' });
    expect(readFileSync(at('c.txt'), 'utf8')).toBe('keep\nkeep\n');
  });

  it('edits a CRLF file with LF text and keeps every line ending CRLF', async () => {
    writeFileSync(at('dos.txt'), 'one\r\ntwo\r\nthree\r\n');
    const out = await ws.run<EditOutput>(editBlock, { path: 'dos.txt', oldText: 'one\ntwo\n', newText: 'uno\ndos\ntres\n' });
    expect(out.lineEndingsAdapted).toBe(true);
    expect(readFileSync(at('dos.txt'), 'utf8')).toBe('uno\r\ndos\r\ntres\r\nthree\r\n');
    expect(out.diff).not.toContain('\r');
  });

  it('keeps a byte order mark', async () => {
    writeFileSync(at('bom.txt'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('hello\n')]));
    await ws.run(editBlock, { path: 'bom.txt', oldText: 'hello', newText: 'world' });
    expect(bytesOf('bom.txt')).toEqual(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('world\n')]));
  });

  it('takes newText literally ($& is not a replacement pattern)', async () => {
    writeFileSync(at('d.txt'), 'price = 1\n');
    await ws.run(editBlock, { path: 'd.txt', oldText: '1', newText: '$& $$' });
    expect(readFileSync(at('d.txt'), 'utf8')).toBe('price = $& $$\n');
  });
});

describe('edit_block refuses without writing', () => {
  it('when the text occurs more often than expected, naming the lines', async () => {
    writeFileSync(at('dup.txt'), 'x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n');
    const error = await failedEdit('dup.txt', { oldText: 'x = 1', newText: 'x = 9' });
    expect(error.message).toContain('oldText occurs 3 times');
    expect(error.message).toContain('at lines 1, 3, 5');
    expect(error.message).toContain('but expectedReplacements is 1; nothing was changed');
    expect(error.message).toContain('set expectedReplacements to 3');
    expect(error.issues).toEqual([{ path: 'oldText', message: 'found 3, expected 1' }]);
  });

  it('when the text occurs less often than expected', async () => {
    writeFileSync(at('dup.txt'), 'x = 1\ny = 2\n');
    const error = await failedEdit('dup.txt', { oldText: 'x = 1', newText: 'x = 9', expectedReplacements: 2 });
    expect(error.message).toContain('oldText occurs 1 time in');
    expect(error.message).toContain('at line 1)');
  });

  it('when the text is not there, showing the closest region with its line numbers and a diff', async () => {
    writeFileSync(at('a.ts'), SOURCE);
    const error = await failedEdit('a.ts', {
      oldText: 'export function alpha(a: number): number {\n  const doubled = a * 4;\n  return doubled + 1;\n}',
      newText: 'replaced',
    });
    expect(error.message).toContain(`oldText was not found in ${at('a.ts')} (expected 1 time); nothing was changed.`);
    expect(error.message).toMatch(/Closest match: lines 3–6 \(9\d% similar\)\./);
    expect(error.message).toContain('--- oldText (what you sent)');
    expect(error.message).toContain(`+++ ${at('a.ts')} lines 3–6 (what is there)`);
    expect(error.message).toContain('-  const doubled = a * 4;\n+  const doubled = a * 2;');
    expect(error.message).toContain('read_file with offset 2 and length 4');
    expect(error.details).toMatchObject({ found: 0, expected: 1, candidates: [{ startLine: 3, endLine: 6 }] });
  });

  it('when only the indentation differs, and says so', async () => {
    writeFileSync(at('a.ts'), SOURCE);
    const error = await failedEdit('a.ts', { oldText: '    return b.toUpperCase();\n', newText: '  return b;\n' });
    expect(error.message).toMatch(/Closest match: line 9 \(\d+% similar\)\. It differs only in whitespace/);
  });

  it('when nothing in the file resembles the text', async () => {
    writeFileSync(at('a.ts'), SOURCE);
    const error = await failedEdit('a.ts', { oldText: 'SELECT name FROM customers WHERE region = 42;', newText: 'x' });
    expect(error.message).toContain('No region of the file resembles it');
  });

  it.each([
    ['oldText equals newText', { oldText: 'alpha', newText: 'alpha' }, 'nothing to change'],
    ['oldText is empty', { oldText: '', newText: 'x' }, 'oldText must not be empty'],
  ])('when %s', async (_name, input, message) => {
    writeFileSync(at('a.ts'), SOURCE);
    const before = bytesOf('a.ts');
    await expect(ws.run(editBlock, { path: 'a.ts', ...input })).rejects.toThrow(message);
    expect(bytesOf('a.ts').equals(before)).toBe(true);
  });

  it('for a binary file or one that is not valid UTF-8', async () => {
    writeFileSync(at('bin.dat'), Buffer.from('abc\0def'));
    expect((await failedEdit('bin.dat', { oldText: 'abc', newText: 'x' })).message).toContain('binary');
    writeFileSync(at('latin1.txt'), Buffer.concat([Buffer.from(`${'a'.repeat(9000)}\n`), Buffer.from([0xe9, 0x0a])]));
    expect((await failedEdit('latin1.txt', { oldText: 'aaa', newText: 'b' })).message).toContain('not valid UTF-8');
  });

  it('for a file the policy refuses', async () => {
    writeFileSync(at('.env'), 'TOKEN=a\n');
    await expect(ws.run(editBlock, { path: '.env', oldText: 'TOKEN=a', newText: 'TOKEN=b' })).rejects.toBeInstanceOf(PolicyDeniedError);
    expect(readFileSync(at('.env'), 'utf8')).toBe('TOKEN=a\n');
  });
});
