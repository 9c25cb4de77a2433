import { describe, expect, it } from 'vitest';
import { ForbiddenError } from '../core/index.js';
import { isPermission, isPermissionPattern, permissionMatches } from './permission.js';
import type { Principal } from './principal.js';
import { builtinRbac, createRbac } from './rbac.js';

/**
 * The contract between the built-in roles and every permission: written out by hand,
 * not derived from roles.yaml, so a role that silently gains or loses a permission
 * fails here. Y = allowed, - = denied.
 */
const MATRIX = `
permission                          viewer  operator  admin  ci  monitoring
self:read                           Y       Y         Y      -   -
self:update                         Y       Y         Y      -   -
api-keys:own                        -       Y         Y      -   -
users:read                          -       -         Y      -   -
users:create                        -       -         Y      -   -
users:update                        -       -         Y      -   -
users:assign-roles                  -       -         Y      -   -
api-keys:read                       -       -         Y      -   -
api-keys:create                     -       -         Y      -   -
api-keys:revoke                     -       -         Y      -   -
roles:read                          Y       Y         Y      -   -
audit:read                          -       -         Y      -   Y
audit:verify                        -       -         Y      -   Y
metrics:read                        -       -         Y      -   Y
signing-keys:rotate                 -       -         Y      -   -
approvals:read                      -       -         Y      -   -
approvals:decide                    -       -         Y      -   -
tool.desktop.read_file:read         Y       Y         Y      Y   Y
tool.desktop.write_file:write       -       Y         Y      -   -
tool.desktop.run_command:execute    -       Y         Y      Y   -
tool.bashgod.x:admin                -       -         Y      -   -
`;

const TOOL_PERMISSIONS = ['tool.desktop.read_file:read', 'tool.desktop.write_file:write', 'tool.desktop.run_command:execute', 'tool.bashgod.x:admin'];

function parseMatrix(text: string): { roles: string[]; rows: { permission: string; allowed: Record<string, boolean> }[] } {
  const [header, ...lines] = text
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/));
  if (header === undefined) throw new Error('empty matrix');
  const roles = header.slice(1);
  const rows = lines.map(([permission = '', ...cells]) => {
    if (cells.length !== roles.length || cells.some((cell) => cell !== 'Y' && cell !== '-')) throw new Error(`bad matrix row for ${permission}`);
    return { permission, allowed: Object.fromEntries(roles.map((role, i) => [role, cells[i] === 'Y'])) };
  });
  return { roles, rows };
}

const matrix = parseMatrix(MATRIX);
const rbac = builtinRbac();

function principal(roles: string[], extra: Partial<Principal> = {}): Principal {
  return { kind: 'user', id: 'usr_test', name: 'test', roles, permissions: [], ...extra };
}

describe('the built-in role × permission matrix', () => {
  it('covers exactly the built-in roles', () => {
    expect([...rbac.roles.keys()].sort()).toEqual([...matrix.roles].sort());
    expect(matrix.roles).toEqual(['viewer', 'operator', 'admin', 'ci', 'monitoring']);
  });

  it('covers exactly the catalogued permissions plus the representative tool permissions', () => {
    // Adding a permission to permissions.yaml without deciding its row here fails.
    const tablePermissions = matrix.rows.map((row) => row.permission);
    expect(new Set(tablePermissions).size).toBe(tablePermissions.length);
    expect(tablePermissions.filter((permission) => !TOOL_PERMISSIONS.includes(permission)).sort()).toEqual([...rbac.permissions.keys()].sort());
    expect(tablePermissions.filter((permission) => TOOL_PERMISSIONS.includes(permission)).sort()).toEqual([...TOOL_PERMISSIONS].sort());
    for (const description of rbac.permissions.values()) expect(description.length).toBeGreaterThan(0);
  });

  const cases = matrix.rows.flatMap((row) => matrix.roles.map((role) => ({ role, permission: row.permission, allowed: row.allowed[role] === true })));

  it.each(cases)('$role → $permission: $allowed', ({ role, permission, allowed }) => {
    expect(rbac.can(principal([role]), permission)).toBe(allowed);
    if (allowed) expect(() => rbac.authorize(principal([role]), permission)).not.toThrow();
    else expect(() => rbac.authorize(principal([role]), permission)).toThrow(ForbiddenError);
  });

  it('gives a principal with several roles the union of their rows', () => {
    const both = principal(['ci', 'monitoring']);
    for (const row of matrix.rows) expect(rbac.can(both, row.permission), row.permission).toBe(row.allowed.ci === true || row.allowed.monitoring === true);
  });

  it('names the missing permission in the ForbiddenError', () => {
    try {
      rbac.authorize(principal(['viewer']), 'users:read');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ForbiddenError);
      expect((error as ForbiddenError).permission).toBe('users:read');
      expect((error as ForbiddenError).details).toMatchObject({ permission: 'users:read' });
    }
  });

  it('builds the built-in RBAC once', () => {
    expect(builtinRbac()).toBe(rbac);
  });
});

describe('permission patterns', () => {
  it.each([
    // pattern, permission, matches
    ['*:*', 'users:read', true],
    ['*:*', 'tool.desktop.read_file:read', true],
    ['users:*', 'users:read', true],
    ['users:*', 'users:assign-roles', true],
    ['users:*', 'users-extra:read', false],
    ['*:read', 'users:read', true],
    ['*:read', 'tool.x:read', true],
    ['*:read', 'users:readall', false],
    ['tool.*:read', 'tool.x:read', true],
    ['tool.*:read', 'tool.desktop.read_file:read', true],
    ['tool.*:read', 'tool.x:write', false],
    ['tool.*:read', 'tools:read', false],
    ['tool.*:read', 'tool:read', false],
    ['tool.desktop.*:read', 'tool.bashgod.x:read', false],
    ['tool.*.read_file:read', 'tool.desktop.read_file:read', true],
    ['tool.*.read_file:read', 'tool.desktop.write_file:read', false],
    ['tool.*', 'tool.x:read', false],
    ['*', 'tool.x:read', false],
    ['tool.*:*', 'tool.x:admin', true],
    ['tool.*:*', 'users:read', false],
    ['users:read', 'users:read', true],
    ['users:read', 'users:reads', false],
    ['users.read', 'usersxread', false],
    ['a-b:c', 'a-b:c', true],
    ['a*b:c', 'axxb:c', true],
    ['a*b:c', 'ax:b:c', false],
  ] as const)('%s vs %s → %s', (pattern, permission, matches) => {
    expect(permissionMatches(pattern, permission)).toBe(matches);
  });

  it('never lets * cross the colon', () => {
    expect(permissionMatches('tool.*:read', 'tool.x:y:read')).toBe(false);
    expect(permissionMatches('*:read', 'a:b:read')).toBe(false);
    expect(permissionMatches('users:*', 'users:read:more')).toBe(false);
  });

  it.each([
    ['users:read', true, true],
    ['tool.desktop.read_file:read', true, true],
    ['tool.*:read', false, true],
    ['*:*', false, true],
    ['users', false, false],
    ['*', false, false],
    ['a:b:c', false, false],
    [':read', false, false],
    ['users:', false, false],
    ['Users:read', false, false],
    ['users:read ', false, false],
    ['.users:read', false, false],
    ['', false, false],
  ] as const)('%s: permission %s, pattern %s', (value, permission, pattern) => {
    expect(isPermission(value)).toBe(permission);
    expect(isPermissionPattern(value)).toBe(pattern);
  });

  it('refuses to answer a question that is itself a pattern, even for admin', () => {
    const admin = principal(['admin']);
    expect(rbac.can(admin, '*:*')).toBe(false);
    expect(rbac.can(admin, 'tool.*:read')).toBe(false);
    expect(rbac.can(admin, 'not a permission')).toBe(false);
  });
});

describe('deny by default', () => {
  it('grants a principal without roles or permissions nothing', () => {
    const nobody = principal([]);
    for (const row of matrix.rows) expect(rbac.can(nobody, row.permission)).toBe(false);
    expect(rbac.grantsOf([])).toEqual([]);
  });

  it('grants nothing for an unknown role', () => {
    const ghost = principal(['root', 'superuser']);
    for (const row of matrix.rows) expect(rbac.can(ghost, row.permission)).toBe(false);
    expect(rbac.isRole('root')).toBe(false);
  });

  it('grants an unknown role nothing while the known one still counts', () => {
    expect(rbac.can(principal(['ghost', 'viewer']), 'self:read')).toBe(true);
    expect(rbac.can(principal(['ghost', 'viewer']), 'users:read')).toBe(false);
  });
});

describe('explicit permissions on a principal', () => {
  it('grants exactly the listed permissions beside the roles', () => {
    const scoped = principal([], { kind: 'service', permissions: ['audit:read', 'tool.desktop.*:read'] });
    expect(rbac.can(scoped, 'audit:read')).toBe(true);
    expect(rbac.can(scoped, 'audit:verify')).toBe(false);
    expect(rbac.can(scoped, 'tool.desktop.read_file:read')).toBe(true);
    expect(rbac.can(scoped, 'tool.bashgod.x:read')).toBe(false);
    expect(rbac.can(scoped, 'tool.desktop.write_file:write')).toBe(false);
  });

  it('adds to the roles', () => {
    const viewerPlus = principal(['viewer'], { permissions: ['metrics:read'] });
    expect(rbac.can(viewerPlus, 'metrics:read')).toBe(true);
    expect(rbac.can(viewerPlus, 'self:read')).toBe(true);
    expect(rbac.can(viewerPlus, 'audit:read')).toBe(false);
  });
});

describe('the ceiling', () => {
  it('bounds a key by its user’s roles whatever the key itself grants', () => {
    const key = principal(['admin'], { kind: 'api-key', ceiling: ['viewer'] });
    expect(rbac.can(key, 'self:read')).toBe(true);
    expect(rbac.can(key, 'tool.desktop.read_file:read')).toBe(true);
    expect(rbac.can(key, 'tool.desktop.write_file:write')).toBe(false);
    expect(rbac.can(key, 'users:read')).toBe(false);
    expect(rbac.can(key, 'signing-keys:rotate')).toBe(false);
  });

  it('bounds explicit permissions too', () => {
    const key = principal([], { kind: 'api-key', permissions: ['*:*'], ceiling: ['monitoring'] });
    expect(rbac.can(key, 'metrics:read')).toBe(true);
    expect(rbac.can(key, 'users:read')).toBe(false);
    expect(rbac.can(key, 'tool.desktop.run_command:execute')).toBe(false);
  });

  it('does not widen anything: the key still needs the grant itself', () => {
    const key = principal(['viewer'], { kind: 'api-key', ceiling: ['admin'] });
    expect(rbac.can(key, 'self:read')).toBe(true);
    expect(rbac.can(key, 'users:read')).toBe(false);
    expect(rbac.can(key, 'tool.desktop.write_file:write')).toBe(false);
  });

  it('denies everything when the user has no roles left', () => {
    const key = principal(['operator'], { kind: 'api-key', ceiling: [] });
    for (const row of matrix.rows) expect(rbac.can(key, row.permission)).toBe(false);
  });

  it('is the intersection for every matrix row', () => {
    const key = principal(['operator'], { kind: 'api-key', ceiling: ['ci'] });
    for (const row of matrix.rows) expect(rbac.can(key, row.permission), row.permission).toBe(row.allowed.operator === true && row.allowed.ci === true);
  });
});

describe('inheritance', () => {
  const permissionsFile = { permissions: { 'a:read': 'A', 'b:read': 'B', 'c:read': 'C', 'd:read': 'D' } };

  it('gives a role everything its ancestors have, transitively', () => {
    const custom = createRbac(
      {
        roles: {
          base: { description: 'base', permissions: ['a:read'] },
          middle: { description: 'middle', inherits: ['base'], permissions: ['b:read'] },
          top: { description: 'top', inherits: ['middle'], permissions: ['c:read'] },
          other: { description: 'other', permissions: ['d:read'] },
          diamond: { description: 'two parents', inherits: ['middle', 'other'], permissions: [] },
        },
      },
      permissionsFile,
    );
    const can = (role: string, permission: string) => custom.can(principal([role]), permission);
    expect(can('top', 'a:read')).toBe(true);
    expect(can('top', 'b:read')).toBe(true);
    expect(can('top', 'c:read')).toBe(true);
    expect(can('top', 'd:read')).toBe(false);
    expect(can('base', 'b:read')).toBe(false);
    expect(can('middle', 'c:read')).toBe(false);
    expect(['a:read', 'b:read', 'd:read'].every((permission) => can('diamond', permission))).toBe(true);
    expect(can('diamond', 'c:read')).toBe(false);
    expect([...(custom.roles.get('top')?.effective ?? [])].sort()).toEqual(['a:read', 'b:read', 'c:read']);
    expect(custom.roles.get('top')?.permissions).toEqual(['c:read']);
    expect(custom.roles.get('top')?.inherits).toEqual(['middle']);
  });

  it('resolves parents declared after their children', () => {
    const custom = createRbac(
      { roles: { child: { description: 'c', inherits: ['parent'], permissions: [] }, parent: { description: 'p', permissions: ['a:read'] } } },
      permissionsFile,
    );
    expect(custom.can(principal(['child']), 'a:read')).toBe(true);
  });

  it('expands the built-in chain viewer → operator → admin', () => {
    const operator = rbac.roles.get('operator');
    expect(operator?.inherits).toEqual(['viewer']);
    expect(operator?.effective).toEqual(expect.arrayContaining(['self:read', 'self:update', 'roles:read', 'tool.*:read', 'tool.*:write', 'tool.*:execute', 'api-keys:own']));
    expect(rbac.roles.get('admin')?.effective).toEqual(expect.arrayContaining(['*:*', ...(operator?.effective ?? [])]));
    expect(rbac.roles.get('ci')?.inherits).toEqual([]);
  });

  it.each([
    ['a direct cycle', { ra: { description: 'ra', inherits: ['rb'], permissions: [] }, rb: { description: 'rb', inherits: ['ra'], permissions: [] } }, /cycle/],
    ['a role inheriting itself', { ra: { description: 'ra', inherits: ['ra'], permissions: [] } }, /cycle/],
    [
      'a longer cycle',
      {
        ra: { description: 'ra', inherits: ['rb'], permissions: [] },
        rb: { description: 'rb', inherits: ['rc'], permissions: [] },
        rc: { description: 'rc', inherits: ['ra'], permissions: [] },
      },
      /cycle/,
    ],
    ['an unknown parent', { ra: { description: 'ra', inherits: ['nobody'], permissions: [] } }, /ra inherits unknown role nobody/],
  ])('rejects %s', (_name, roles, message) => {
    expect(() => createRbac({ roles }, permissionsFile)).toThrow(message);
  });

  it('accepts a minimal valid definition (the control for the rejections below)', () => {
    const minimal = createRbac({ roles: { rx: { description: 'x', permissions: ['a:read', 'tool.*:*'] } } }, permissionsFile);
    expect(minimal.can(principal(['rx']), 'a:read')).toBe(true);
  });

  it.each([
    ['a role name with capitals', { roles: { Admin: { description: 'x', permissions: [] } } }, permissionsFile],
    ['a malformed grant', { roles: { rx: { description: 'x', permissions: ['users'] } } }, permissionsFile],
    ['a grant of a bare *', { roles: { rx: { description: 'x', permissions: ['*'] } } }, permissionsFile],
    ['an unknown field', { roles: { rx: { description: 'x', permissions: [], extra: true } } }, permissionsFile],
    ['a role without a description', { roles: { rx: { permissions: [] } } }, permissionsFile],
    ['a wildcard in the permission catalogue', { roles: {} }, { permissions: { 'users:*': 'all' } }],
    ['a permission without a description', { roles: {} }, { permissions: { 'users:read': '' } }],
  ])('rejects %s', (_name, rolesFile, catalogue) => {
    expect(() => createRbac(rolesFile, catalogue)).toThrow();
  });
});
