import type { ServerDeps } from '../deps.js';
import { defineRoute } from '../route.js';

export function roleRoutes({ identity }: ServerDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/roles',
      tag: 'roles',
      summary: 'The roles, what each inherits and grants',
      auth: 'required',
      permission: 'roles:read',
      handler: () =>
        Promise.resolve({
          roles: [...identity.rbac.roles.values()].map((role) => ({
            name: role.name,
            description: role.description,
            inherits: role.inherits,
            permissions: role.permissions,
            effective: role.effective,
          })),
        }),
    }),
    defineRoute({
      method: 'GET',
      url: '/permissions',
      tag: 'roles',
      summary: 'Every permission outside the tool plane, with what it allows',
      auth: 'required',
      permission: 'roles:read',
      handler: () => Promise.resolve({ permissions: [...identity.rbac.permissions].map(([name, description]) => ({ name, description })) }),
    }),
  ];
}
