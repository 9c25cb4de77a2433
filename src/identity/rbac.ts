import { z } from 'zod';
import { ForbiddenError, loadDataFile } from '../core/index.js';
import { isPermission, isPermissionPattern, permissionMatches } from './permission.js';
import type { Principal } from './principal.js';

const roleName = z.string().regex(/^[a-z][a-z0-9-]{1,31}$/, 'role names are lower-case letters, digits and -');

const rolesFileSchema = z.strictObject({
  roles: z.record(
    roleName,
    z.strictObject({
      description: z.string().min(1),
      inherits: z.array(roleName).default([]),
      permissions: z.array(z.string().refine(isPermissionPattern, 'must be resource:action, * allowed as a wildcard')),
    }),
  ),
});

const permissionsFileSchema = z.strictObject({
  permissions: z.record(z.string().refine(isPermission, 'must be resource:action without wildcards'), z.string().min(1)),
});

export interface RoleDefinition {
  name: string;
  description: string;
  inherits: readonly string[];
  /** What the role lists itself. */
  permissions: readonly string[];
  /** Its own patterns and every ancestor's. */
  effective: readonly string[];
}

export interface Rbac {
  readonly roles: ReadonlyMap<string, RoleDefinition>;
  /** Every non-tool permission, with what it allows. */
  readonly permissions: ReadonlyMap<string, string>;
  /** Deny by default: true only if some grant of the principal matches and its ceiling (if any) allows it too. */
  can(principal: Principal, permission: string): boolean;
  /** Throws ForbiddenError naming the permission. */
  authorize(principal: Principal, permission: string): void;
  /** The patterns a set of roles grants, inheritance expanded. */
  grantsOf(roles: readonly string[]): readonly string[];
  isRole(name: string): boolean;
}

/** Builds the role graph, rejecting unknown parents and inheritance cycles. */
export function createRbac(rolesFile: unknown, permissionsFile: unknown): Rbac {
  const roleData = rolesFileSchema.parse(rolesFile).roles;
  const permissionData = permissionsFileSchema.parse(permissionsFile).permissions;
  const roles = new Map<string, RoleDefinition>();

  const resolve = (name: string, trail: readonly string[]): readonly string[] => {
    const known = roles.get(name);
    if (known !== undefined) return known.effective;
    const data = roleData[name];
    if (data === undefined) throw new Error(`role ${trail.at(-1) ?? '?'} inherits unknown role ${name}`);
    if (trail.includes(name)) throw new Error(`role inheritance cycle: ${[...trail, name].join(' → ')}`);
    const effective = new Set(data.permissions);
    for (const parent of data.inherits) for (const pattern of resolve(parent, [...trail, name])) effective.add(pattern);
    const role: RoleDefinition = { name, description: data.description, inherits: data.inherits, permissions: data.permissions, effective: [...effective] };
    roles.set(name, role);
    return role.effective;
  };
  for (const name of Object.keys(roleData)) resolve(name, []);

  const grantCache = new Map<string, readonly string[]>();
  const grantsOf = (names: readonly string[]): readonly string[] => {
    const cacheKey = names.join(',');
    let grants = grantCache.get(cacheKey);
    if (grants === undefined) {
      // An unknown role (say, removed since a key was issued) grants nothing, rather than failing the request.
      grants = [...new Set(names.flatMap((name) => roles.get(name)?.effective ?? []))];
      grantCache.set(cacheKey, grants);
    }
    return grants;
  };
  const allows = (patterns: readonly string[], permission: string) => patterns.some((pattern) => permissionMatches(pattern, permission));

  const can = (principal: Principal, permission: string): boolean => {
    if (!isPermission(permission)) return false;
    if (!allows([...grantsOf(principal.roles), ...principal.permissions], permission)) return false;
    return principal.ceiling === undefined || allows(grantsOf(principal.ceiling), permission);
  };

  return Object.freeze({
    roles,
    permissions: new Map(Object.entries(permissionData)),
    can,
    authorize(principal: Principal, permission: string) {
      if (!can(principal, permission)) throw new ForbiddenError(`${describePrincipal(principal)} lacks the permission ${permission}`, permission);
    },
    grantsOf,
    isRole: (name: string) => roles.has(name),
  });
}

function describePrincipal(principal: Principal): string {
  return `${principal.kind} ${principal.name}`;
}

let builtin: Rbac | undefined;

/** The built-in roles and permissions from `data/`, loaded once. */
export function builtinRbac(): Rbac {
  builtin ??= createRbac(
    loadDataFile(new URL('./data/roles.yaml', import.meta.url), z.unknown()),
    loadDataFile(new URL('./data/permissions.yaml', import.meta.url), z.unknown()),
  );
  return builtin;
}
