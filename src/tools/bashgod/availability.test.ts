import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingExecutables } from './availability.js';
import { getCommand } from './catalogue.js';

let dir: string;
let other: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ironcode-bashgod-path-'));
  other = mkdtempSync(path.join(tmpdir(), 'ironcode-bashgod-path-'));
  writeFileSync(path.join(dir, 'uptime'), '#!/bin/sh\necho up\n');
  chmodSync(path.join(dir, 'uptime'), 0o755);
  writeFileSync(path.join(dir, 'not-executable'), 'plain text\n');
  chmodSync(path.join(dir, 'not-executable'), 0o644);
  mkdirSync(path.join(dir, 'a-directory'));
  writeFileSync(path.join(other, 'flock'), '#!/bin/sh\n');
  chmodSync(path.join(other, 'flock'), 0o755);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
});

describe('missing executables', () => {
  it('finds nothing missing when every requirement is on the path', () => {
    expect(missingExecutables(getCommand('uptime-load'), { path: dir })).toEqual([]);
  });

  it('names a catalogue command’s executable that the path lacks', () => {
    expect(missingExecutables(getCommand('listening-sockets'), { path: dir })).toEqual(['ss']);
  });

  it('checks every requirement, across every directory of the path', () => {
    expect(missingExecutables(getCommand('lock-is-free'), { path: `${dir}${path.delimiter}${other}` })).toEqual(['true']);
    expect(missingExecutables({ requires: ['uptime', 'flock', 'kubectl'] }, { path: `${dir}${path.delimiter}${other}` })).toEqual(['kubectl']);
  });

  it('does not count a file without execute permission or a directory', () => {
    expect(missingExecutables({ requires: ['not-executable', 'a-directory', 'uptime'] }, { path: dir })).toEqual(['not-executable', 'a-directory']);
  });

  it('treats an empty path as having nothing', () => {
    expect(missingExecutables(getCommand('uptime-load'), { path: '' })).toEqual(['uptime']);
  });

  it('looks on the policy’s fixed search path by default', () => {
    // Whatever this machine has installed, the answer is a subset of the requirements.
    const command = getCommand('tls-server-certificate');
    for (const name of missingExecutables(command)) expect(command.requires).toContain(name);
    expect(missingExecutables({ requires: ['surely-no-such-program-exists'] })).toEqual(['surely-no-such-program-exists']);
  });
});
