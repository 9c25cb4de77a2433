import { mkdirSync, mkdtempSync, promises as fsp, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NotFoundError, PolicyDeniedError, ValidationError } from '../../core/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import type { GuardedFs } from './guarded-fs.js';

let ws: ToolWorkspace;
let fs: GuardedFs;

beforeEach(async () => {
  ws = await toolWorkspace();
  fs = ws.context().fs;
});

afterEach(async () => {
  vi.restoreAllMocks();
  await ws.close();
});

const at = (name: string) => path.join(ws.root, name);

describe('readWith', () => {
  it('lends the judged file for positioned reads and reports its canonical path and size', async () => {
    writeFileSync(at('data.txt'), '0123456789');
    const result = await fs.readWith('data.txt', async (file) => ({
      path: file.path,
      size: file.size,
      middle: (await file.read(3, 4)).toString(),
      pastEnd: (await file.read(8, 100)).toString(),
      nothing: (await file.read(10, 5)).length,
    }));
    expect(result).toEqual({ path: at('data.txt'), size: 10, middle: '3456', pastEnd: '89', nothing: 0 });
  });

  it('closes the file afterwards, also when the borrower throws', async () => {
    writeFileSync(at('data.txt'), 'x');
    let kept: ((p: number, l: number) => Promise<Buffer>) | undefined;
    await expect(
      fs.readWith('data.txt', async (file) => {
        kept = file.read;
        throw new Error('borrower failed');
      }),
    ).rejects.toThrow('borrower failed');
    await expect(kept!(0, 1)).rejects.toThrow();
  });

  it.each([
    ['a secret', '.env', PolicyDeniedError],
    ['the data directory', '.ironcode/audit.db', PolicyDeniedError],
    ['a path outside the roots', '/etc/hostname', PolicyDeniedError],
    ['a missing file', 'missing.txt', NotFoundError],
    ['a directory', 'dir', ValidationError],
  ])('refuses %s before lending anything', async (_name, target, error) => {
    writeFileSync(at('.env'), 'TOKEN=secret');
    mkdirSync(ws.dataDir, { recursive: true });
    writeFileSync(path.join(ws.dataDir, 'audit.db'), 'audit');
    mkdirSync(at('dir'));
    const use = vi.fn(async () => 'used');
    await expect(fs.readWith(target, use)).rejects.toBeInstanceOf(error);
    expect(use).not.toHaveBeenCalled();
  });

  it('does not follow a link that leads outside the roots', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'ironcode-outside-'));
    try {
      writeFileSync(path.join(outside, 'secret.txt'), 'outside');
      symlinkSync(path.join(outside, 'secret.txt'), at('link.txt'));
      await expect(fs.readWith('link.txt', async () => 'used')).rejects.toBeInstanceOf(PolicyDeniedError);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('rejects impossible ranges', async () => {
    writeFileSync(at('data.txt'), 'x');
    await expect(fs.readWith('data.txt', (file) => file.read(-1, 1))).rejects.toThrow(RangeError);
  });

  it('keeps readFile working on top of it, capped and uncapped', async () => {
    writeFileSync(at('data.txt'), 'hello world');
    expect(await fs.readFile('data.txt', { maxBytes: 5 })).toMatchObject({ data: Buffer.from('hello'), size: 11, truncated: true });
    expect(await fs.readFile('data.txt')).toMatchObject({ data: Buffer.from('hello world'), size: 11, truncated: false });
  });
});

describe('writeFile', () => {
  const temps = () => readdirSync(ws.root).filter((name) => name.includes('.ironcode-') && name.endsWith('.tmp'));

  it('leaves no temporary file behind and the old content intact when the rename fails', async () => {
    writeFileSync(at('file.txt'), 'old');
    vi.spyOn(fsp, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await expect(fs.writeFile('file.txt', 'new')).rejects.toThrow('i/o error');
    expect(readFileSync(at('file.txt'), 'utf8')).toBe('old');
    expect(temps()).toEqual([]);
  });

  it('leaves no temporary file behind after a successful write', async () => {
    await fs.writeFile('file.txt', 'one');
    await fs.writeFile('file.txt', 'two', { append: true });
    expect(readFileSync(at('file.txt'), 'utf8')).toBe('onetwo');
    expect(temps()).toEqual([]);
  });
});

describe('info', () => {
  it.each([['.'], ['./'], ['ROOT'], ['ROOT/']])('describes the workspace root itself when named as %s', async (raw) => {
    const info = await fs.info(raw.replace('ROOT', ws.root));
    expect(info).toMatchObject({ path: ws.root, type: 'directory' });
  });

  it('still describes a link to the root as a link', async () => {
    mkdirSync(at('sub'));
    symlinkSync(ws.root, at('sub/to-root'));
    expect(await fs.info('sub/to-root')).toMatchObject({ path: at('sub/to-root'), type: 'symlink', linkTarget: ws.root });
  });

  it('refuses the parent of a root', async () => {
    await expect(fs.info(path.dirname(ws.root))).rejects.toBeInstanceOf(PolicyDeniedError);
  });
});
