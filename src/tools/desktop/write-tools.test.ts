import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, promises as fsp, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { ConflictError, IronError, PolicyDeniedError } from '../../core/index.js';
import { builtinProfile } from '../../policy/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import { createDirectory, moveFile, writeFile, writeTools } from './write-tools.js';

let ws: ToolWorkspace;
beforeEach(async () => {
  ws = await toolWorkspace();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await ws.close();
});

const at = (name: string) => path.join(ws.root, name);
const read = (name: string) => readFileSync(at(name), 'utf8');
/** Temporary files GuardedFs writes beside a target before renaming it into place. */
const tempFiles = (dir = ws.root): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => /\.ironcode-[0-9a-f]+\.tmp$/.test(name));

it('exports the write tools with honest hints', () => {
  expect(writeTools.map((t) => [t.mcpName, t.risk, t.annotations.destructive, t.annotations.idempotent])).toEqual([
    ['desktop_write_file', 'write', true, false],
    ['desktop_create_directory', 'write', false, true],
    ['desktop_move_file', 'write', true, false],
  ]);
});

describe('write_file', () => {
  it.each([
    ['creates a file', undefined, 'hello\n', false, 'hello\n', true, 6],
    ['rewrites a file', 'rewrite', 'new\n', true, 'new\n', false, 4],
    ['appends to a file', 'append', 'more\n', true, 'old\nmore\n', false, 5],
    ['appends to a missing file by creating it', 'append', 'first\n', false, 'first\n', true, 6],
  ] as const)('%s', async (_name, mode, content, exists, after, created, bytes) => {
    if (exists) writeFileSync(at('file.txt'), 'old\n');
    const out = await ws.run(writeFile, { path: 'file.txt', content, ...(mode === undefined ? {} : { mode }) });
    expect(out).toEqual({ path: at('file.txt'), bytes, created });
    expect(read('file.txt')).toBe(after);
    expect(tempFiles()).toEqual([]);
  });

  it('writes UTF-8 and counts bytes, not characters', async () => {
    const out = await ws.run(writeFile, { path: 'u.txt', content: 'é日' });
    expect(out).toMatchObject({ bytes: 5 });
    expect(read('u.txt')).toBe('é日');
  });

  it('keeps the mode of an existing file', async () => {
    writeFileSync(at('script.sh'), '#!/bin/sh\n');
    chmodSync(at('script.sh'), 0o750);
    await ws.run(writeFile, { path: 'script.sh', content: '#!/bin/sh\necho hi\n' });
    expect(statSync(at('script.sh')).mode & 0o777).toBe(0o750);
    await ws.run(writeFile, { path: 'script.sh', content: 'exit 0\n', mode: 'append' });
    expect(statSync(at('script.sh')).mode & 0o777).toBe(0o750);
  });

  it('leaves the old content and no temporary file behind when the write fails half-way', async () => {
    writeFileSync(at('file.txt'), 'old\n');
    vi.spyOn(fsp, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' }));
    await expect(ws.run(writeFile, { path: 'file.txt', content: 'new\n' })).rejects.toThrow('i/o error');
    expect(read('file.txt')).toBe('old\n');
    expect(tempFiles()).toEqual([]);
  });

  it('refuses a write over the profile size limit before creating anything', async () => {
    const standard = builtinProfile('standard');
    const small = await toolWorkspace({ profile: { ...standard, exec: { ...standard.exec, limits: { ...standard.exec.limits, maxFileBytes: 10 } } } });
    try {
      const error = await small.run(writeFile, { path: 'big.txt', content: 'x'.repeat(11) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IronError);
      expect((error as IronError).kind).toBe('payloadTooLarge');
      expect(existsSync(path.join(small.root, 'big.txt'))).toBe(false);
      expect(tempFiles(small.root)).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('refuses to write through a link that leads outside the roots', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'ironcode-outside-'));
    try {
      writeFileSync(path.join(outside, 'victim.txt'), 'original');
      symlinkSync(path.join(outside, 'victim.txt'), at('innocent.txt'));
      await expect(ws.run(writeFile, { path: 'innocent.txt', content: 'pwned' })).rejects.toBeInstanceOf(PolicyDeniedError);
      expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('original');
      expect(readdirSync(outside)).toEqual(['victim.txt']);
      expect(lstatSync(at('innocent.txt')).isSymbolicLink()).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('writes the target of a link inside the roots and keeps the link', async () => {
    // Decision: a link inside the workspace is followed, as an editor would; the policy judged its target.
    writeFileSync(at('real.txt'), 'before');
    symlinkSync('real.txt', at('alias.txt'));
    const out = await ws.run(writeFile, { path: 'alias.txt', content: 'after' });
    expect(out).toMatchObject({ path: at('real.txt'), created: false });
    expect(read('real.txt')).toBe('after');
    expect(lstatSync(at('alias.txt')).isSymbolicLink()).toBe(true);
  });

  it.each([
    ['a secret', '.env'],
    ['the data directory', '.ironcode/audit.db'],
    ['a git hook', '.git/hooks/pre-commit'],
    ['outside the roots', '/tmp/ironcode-escape.txt'],
  ])('refuses to write %s', async (_name, target) => {
    mkdirSync(at('.git/hooks'), { recursive: true });
    mkdirSync(ws.dataDir, { recursive: true });
    await expect(ws.run(writeFile, { path: target, content: 'x' })).rejects.toBeInstanceOf(PolicyDeniedError);
  });

  it('does not create missing parent directories', async () => {
    await expect(ws.run(writeFile, { path: 'no/such/dir/file.txt', content: 'x' })).rejects.toThrow();
    expect(existsSync(at('no'))).toBe(false);
  });

  it('audits the size, never the content', async () => {
    const out = await ws.run<z.output<typeof writeFile.output>>(writeFile, { path: 'file.txt', content: 'TOP SECRET' });
    expect(JSON.stringify(writeFile.auditResult!(out))).not.toContain('TOP SECRET');
  });
});

describe('create_directory', () => {
  it('creates a directory with its parents, and is fine when it exists', async () => {
    expect(await ws.run(createDirectory, { path: 'a/b/c' })).toEqual({ path: at('a/b/c'), created: true });
    expect(statSync(at('a/b/c')).isDirectory()).toBe(true);
    expect(await ws.run(createDirectory, { path: 'a/b/c' })).toEqual({ path: at('a/b/c'), created: false });
  });

  it('refuses where a file is, and inside protected places', async () => {
    writeFileSync(at('file'), 'x');
    await expect(ws.run(createDirectory, { path: 'file' })).rejects.toBeInstanceOf(ConflictError);
    await expect(ws.run(createDirectory, { path: '.ironcode/x' })).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(ws.run(createDirectory, { path: '.ssh' })).rejects.toBeInstanceOf(PolicyDeniedError);
  });
});

describe('move_file', () => {
  it('moves a file and a directory', async () => {
    writeFileSync(at('a.txt'), 'A');
    expect(await ws.run(moveFile, { source: 'a.txt', destination: 'b.txt' })).toEqual({ from: at('a.txt'), to: at('b.txt') });
    expect(read('b.txt')).toBe('A');
    expect(existsSync(at('a.txt'))).toBe(false);
    mkdirSync(at('dir'));
    writeFileSync(at('dir/x'), 'X');
    await ws.run(moveFile, { source: 'dir', destination: 'moved' });
    expect(read('moved/x')).toBe('X');
  });

  it('refuses to replace an existing destination and leaves both alone', async () => {
    writeFileSync(at('a.txt'), 'A');
    writeFileSync(at('b.txt'), 'B');
    await expect(ws.run(moveFile, { source: 'a.txt', destination: 'b.txt' })).rejects.toBeInstanceOf(ConflictError);
    expect([read('a.txt'), read('b.txt')]).toEqual(['A', 'B']);
  });

  it.each([
    ['a secret into a readable name', '.env', 'notes.txt'],
    ['a readable file over a secret name', 'plain.txt', '.env.production'],
    ['a directory holding a secret', 'config', 'config-old'],
    ['something out of the data directory', '.ironcode/audit.db', 'audit.db'],
  ])('refuses to move %s', async (_name, source, destination) => {
    writeFileSync(at('.env'), 'TOKEN=secret\n');
    writeFileSync(at('plain.txt'), 'plain');
    mkdirSync(at('config'));
    writeFileSync(at('config/.env'), 'TOKEN=secret\n');
    mkdirSync(ws.dataDir, { recursive: true });
    writeFileSync(path.join(ws.dataDir, 'audit.db'), 'AUDIT');
    await expect(ws.run(moveFile, { source, destination })).rejects.toBeInstanceOf(PolicyDeniedError);
    expect(existsSync(at(source))).toBe(true);
    expect(existsSync(at(destination))).toBe(false);
  });
});
