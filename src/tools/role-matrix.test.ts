import { describe, expect, it } from 'vitest';
import { builtinRbac, type Principal } from '../identity/index.js';
import { builtinRegistry } from './builtin.js';

/**
 * Every built-in tool × every built-in role, written out. A tool that changes its
 * risk, a new tool, or a role that gains or loses a grant fails here until this
 * table is changed on purpose.
 */
const ROLES = ['viewer', 'operator', 'admin', 'ci', 'monitoring'] as const;
type Role = (typeof ROLES)[number];

const READ: Role[] = ['viewer', 'operator', 'admin', 'ci', 'monitoring'];
const WRITE: Role[] = ['operator', 'admin'];
const EXECUTE: Role[] = ['operator', 'admin', 'ci'];

const MATRIX: Record<string, Role[]> = {
  desktop_run_command: EXECUTE,
  desktop_start_process: EXECUTE,
  desktop_read_process_output: READ,
  desktop_send_input: EXECUTE,
  desktop_list_processes: READ,
  desktop_kill_process: EXECUTE,
  desktop_read_file: READ,
  desktop_read_multiple_files: READ,
  desktop_get_file_info: READ,
  desktop_list_directory: READ,
  desktop_write_file: WRITE,
  desktop_create_directory: WRITE,
  desktop_move_file: WRITE,
  desktop_edit_block: WRITE,
  desktop_search_files: READ,
  desktop_search_content: READ,
  bashgod_search: READ,
  bashgod_describe: READ,
  bashgod_validate: READ,
  bashgod_list_chains: READ,
  bashgod_run: EXECUTE,
  bashgod_run_chain: EXECUTE,
};

const principal = (role: Role): Principal => ({ kind: 'user', id: `usr_${role}`, name: role, roles: [role], permissions: [] });

describe('role × tool matrix', () => {
  const rbac = builtinRbac();
  const tools = builtinRegistry().list();

  it('covers exactly the built-in tools', () => {
    expect(tools.map((tool) => tool.mcpName).sort()).toEqual(Object.keys(MATRIX).sort());
  });

  const rows = Object.entries(MATRIX).flatMap(([tool, allowed]) => ROLES.map((role) => [tool, role, allowed.includes(role)] as const));
  it.each(rows)('%s for %s: %s', (name, role, allowed) => {
    const tool = builtinRegistry().get(name);
    expect(rbac.can(principal(role), tool.permission)).toBe(allowed);
  });

  it('a key scoped to one tool gets that tool and nothing else', () => {
    const scoped: Principal = { kind: 'service', id: 'key_scoped', name: 'scoped', roles: [], permissions: ['tool.desktop.read_file:read'] };
    expect(tools.filter((tool) => rbac.can(scoped, tool.permission)).map((tool) => tool.mcpName)).toEqual(['desktop_read_file']);
  });

  it('a key acting for a viewer never outranks the viewer, whatever its roles say', () => {
    const key: Principal = { kind: 'api-key', id: 'key_up', name: 'up', roles: ['admin'], permissions: [], ceiling: ['viewer'], userId: 'usr_v' };
    const callable = tools.filter((tool) => rbac.can(key, tool.permission));
    expect(callable.every((tool) => tool.risk === 'read')).toBe(true);
  });
});
