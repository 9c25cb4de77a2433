import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ValidationError } from '../core/index.js';
import { loadDataFile } from '../core/index.js';
import { customProfileSchema, profileSchema, type CustomProfile, type Profile } from './profile-schema.js';
import { RELAXABLE_RULES } from './rule-catalogue.js';
import { deepFreeze } from '../core/index.js';

export const BUILTIN_PROFILES = ['strict', 'standard', 'permissive'] as const;
export type BuiltinProfileName = (typeof BUILTIN_PROFILES)[number];

const builtins = new Map<BuiltinProfileName, Profile>();

export function builtinProfile(name: BuiltinProfileName): Profile {
  let profile = builtins.get(name);
  if (!profile) {
    profile = deepFreeze(loadDataFile(new URL(`./profiles/${name}.yaml`, import.meta.url), profileSchema));
    builtins.set(name, profile);
  }
  return profile;
}

/** `strict` | `standard` | `permissive`, or the path of a custom profile file. */
export function loadProfile(nameOrPath: string): Profile {
  if ((BUILTIN_PROFILES as readonly string[]).includes(nameOrPath)) return builtinProfile(nameOrPath as BuiltinProfileName);
  if (!/\.ya?ml$/.test(nameOrPath)) {
    throw new ValidationError(
      `profile: ${JSON.stringify(nameOrPath)} is neither a built-in profile (${BUILTIN_PROFILES.join(', ')}) nor a .yaml file`,
      [{ path: 'profile', message: 'unknown profile' }],
    );
  }
  let text: string;
  try {
    text = readFileSync(nameOrPath, 'utf8');
  } catch (error) {
    throw new ValidationError(`profile: cannot read ${nameOrPath}: ${(error as Error).message}`, [{ path: 'profile', message: 'unreadable' }]);
  }
  let data: unknown;
  try {
    data = parse(text, { uniqueKeys: true });
  } catch (error) {
    throw new ValidationError(`${nameOrPath}: ${(error as Error).message}`, [{ path: '(yaml)', message: 'invalid YAML' }]);
  }
  const result = customProfileSchema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || '(top)', message: i.message }));
    throw new ValidationError(`${nameOrPath}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return applyCustomProfile(result.data, nameOrPath);
}

export function applyCustomProfile(custom: CustomProfile, source = 'custom profile'): Profile {
  const base = builtinProfile(custom.extends);
  const relax = union(base.commands.relax, custom.commands?.relax ?? []);
  const unknown = relax.filter((r) => !RELAXABLE_RULES.has(r));
  if (unknown.length > 0) {
    throw new ValidationError(
      `${source}: commands.relax: ${unknown.join(', ')} cannot be relaxed (relaxable: ${[...RELAXABLE_RULES].join(', ')})`,
      [{ path: 'commands.relax', message: 'not a relaxable rule' }],
    );
  }
  const merged: Profile = {
    name: custom.name,
    description: custom.description,
    commands: {
      mode: custom.commands?.mode ?? base.commands.mode,
      allow: union(base.commands.allow, custom.commands?.allow ?? []),
      deny: union(base.commands.deny, custom.commands?.deny ?? []),
      interactiveInterpreters: custom.commands?.interactiveInterpreters ?? base.commands.interactiveInterpreters,
      workspaceExecutables: custom.commands?.workspaceExecutables ?? base.commands.workspaceExecutables,
      relax,
    },
    workspace: { write: custom.workspace?.write ?? base.workspace.write },
    ask: union(base.ask, custom.ask ?? []),
    network: {
      allowCidrs: union(base.network.allowCidrs, custom.network?.allowCidrs ?? []),
      allowHosts: union(base.network.allowHosts, custom.network?.allowHosts ?? []),
    },
    exec: {
      sandbox: custom.exec?.sandbox ?? base.exec.sandbox,
      network: custom.exec?.network ?? base.exec.network,
      limits: { ...base.exec.limits, ...custom.exec?.limits },
    },
  };
  return deepFreeze(profileSchema.parse(merged));
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
