import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../core/index.js';
import { createPolicy } from './kernel.js';
import { BUILTIN_PROFILES, builtinProfile, loadProfile } from './profiles.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ironcode-profiles-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function profileFile(name: string, yaml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

describe('built-in profiles', () => {
  it.each(BUILTIN_PROFILES)('%s loads, is frozen and keeps the sandbox/network invariants', (name) => {
    const profile = builtinProfile(name);
    expect(profile.name).toBe(name);
    expect(Object.isFrozen(profile.commands.allow)).toBe(true);
    if (name === 'strict') {
      expect(profile.exec.sandbox).toBe('required');
      expect(profile.exec.network).toBe(false);
      expect(profile.workspace.write).toBe('deny');
    }
  });

  it('strict allows a subset of what standard allows', () => {
    const standard = new Set(builtinProfile('standard').commands.allow);
    expect(builtinProfile('strict').commands.allow.filter((c) => !standard.has(c))).toEqual([]);
  });
});

describe('custom profiles', () => {
  it('extend a built-in profile: lists are added to, scalars replaced', async () => {
    const file = profileFile(
      'lab.yaml',
      ['name: lab', 'description: standard plus rsync and a lab network', 'extends: standard', 'commands: { allow: [rsync], deny: [curl] }', 'network: { allowCidrs: [10.20.0.0/16] }', 'exec: { network: true, limits: { timeoutMs: 1000 } }'].join('\n'),
    );
    const profile = loadProfile(file);
    expect(profile.name).toBe('lab');
    expect(profile.commands.allow).toContain('rsync');
    expect(profile.commands.allow).toContain('git');
    expect(profile.network.allowCidrs).toEqual(['10.20.0.0/16']);
    expect(profile.exec).toMatchObject({ network: true, sandbox: 'preferred', limits: { timeoutMs: 1000, maxProcesses: 8 } });

    const policy = await createPolicy({ profile, roots: [dir] });
    expect((await policy.decide({ kind: 'command', line: 'curl https://1.1.1.1/' })).rule).toBe('command.profile-deny');
    expect((await policy.decide({ kind: 'url', url: 'http://10.20.3.4/' })).allowed).toBe(true);
    expect((await policy.decide({ kind: 'url', url: 'http://10.21.3.4/' })).allowed).toBe(false);
  });

  it.each([
    ['an unknown key', 'name: x\ndescription: d\nextends: standard\ncommand: { allow: [rsync] }\n', 'command'],
    ['an unknown base', 'name: x\ndescription: d\nextends: lenient\n', 'extends'],
    ['a path as an executable name', 'name: x\ndescription: d\nextends: standard\ncommands: { allow: [/usr/bin/rsync] }\n', 'commands.allow.0'],
    ['a rule that cannot be relaxed', 'name: x\ndescription: d\nextends: standard\ncommands: { relax: [command.privilege-escalation] }\n', 'commands.relax'],
    ['a bad CIDR', 'name: x\ndescription: d\nextends: standard\nnetwork: { allowCidrs: [10.0.0.0] }\n', 'network.allowCidrs.0'],
    ['a limit out of range', 'name: x\ndescription: d\nextends: standard\nexec: { limits: { timeoutMs: 5 } }\n', 'exec.limits.timeoutMs'],
    ['a missing description', 'name: x\nextends: standard\n', 'description'],
    ['duplicate keys', 'name: x\nname: y\ndescription: d\nextends: standard\n', 'name'],
    ['invalid YAML', 'name: [x\n', 'yaml'],
  ])('are rejected with the field named: %s', (_what, yaml, field) => {
    const file = profileFile(`bad-${field.replace(/\W/g, '-')}.yaml`, yaml);
    let error: unknown;
    try {
      loadProfile(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message.toLowerCase()).toContain(field.toLowerCase().replace('yaml', ''));
  });

  it('rejects a name that is neither built in nor a .yaml file', () => {
    expect(() => loadProfile('lenient')).toThrow(/strict, standard, permissive/);
  });
});
