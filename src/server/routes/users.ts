import { z } from 'zod';
import type { ServerDeps } from '../deps.js';
import { defineRoute, idParam } from '../route.js';

const roles = z.array(z.string().min(1).max(32)).max(16);

export function userRoutes({ identity }: ServerDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/users',
      tag: 'users',
      summary: 'List users',
      auth: 'required',
      handler: async ({ principal, meta }) => ({ users: await identity.users.list(principal, meta) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/users',
      tag: 'users',
      summary: 'Create a user',
      auth: 'required',
      status: 201,
      body: z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024), roles: roles.default([]) }),
      handler: ({ principal, body, meta }) => identity.users.create(principal, body, meta),
    }),
    defineRoute({
      method: 'GET',
      url: '/users/:id',
      tag: 'users',
      summary: 'Read a user (users may read themselves)',
      auth: 'required',
      params: idParam,
      handler: ({ principal, params, meta }) => identity.users.get(principal, params.id, meta),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/users/:id',
      tag: 'users',
      summary: 'Disable, enable or unlock a user',
      auth: 'required',
      params: idParam,
      body: z.strictObject({ disabled: z.boolean().optional(), unlock: z.literal(true).optional() }).refine((b) => b.disabled !== undefined || b.unlock !== undefined, 'nothing to change'),
      handler: ({ principal, params, body, meta }) => identity.users.updateStatus(principal, params.id, body, meta),
    }),
    defineRoute({
      method: 'PUT',
      url: '/users/:id/roles',
      tag: 'users',
      summary: 'Replace the roles of a user',
      auth: 'required',
      params: idParam,
      body: z.strictObject({ roles }),
      handler: ({ principal, params, body, meta }) => identity.users.setRoles(principal, params.id, body.roles, meta),
    }),
    defineRoute({
      method: 'POST',
      url: '/users/:id/password',
      tag: 'users',
      summary: 'Set a user’s password (administrators; ends the user’s sessions)',
      auth: 'required',
      status: 204,
      params: idParam,
      body: z.strictObject({ new_password: z.string().min(1).max(1024), current_password: z.string().max(1024).optional() }),
      handler: ({ principal, params, body, meta }) =>
        identity.users.changePassword(principal, params.id, { newPassword: body.new_password, currentPassword: body.current_password }, meta),
    }),
  ];
}
