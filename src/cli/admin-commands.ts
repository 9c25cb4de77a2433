import type { Command } from 'commander';
import { CommanderError } from 'commander';
import { parseDuration } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { ServiceRuntime } from './service-runtime.js';
import { loadStoreConfig } from './store-flags.js';
import type { StoreFlags } from './store-flags.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function storeOptions(command: Command): Command {
  return command.option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)').option('--data-dir <dir>', 'data directory (default: ./.ironcode)');
}

/** Opens the store for one command; the heavy modules load only when a command runs, not for --help. */
async function withRuntime<T>(flags: StoreFlags, work: (runtime: ServiceRuntime, actor: Principal) => Promise<T>): Promise<T> {
  const [{ openServiceRuntime }, { cliPrincipal }] = await Promise.all([import('./service-runtime.js'), import('../identity/index.js')]);
  const runtime = await openServiceRuntime(loadStoreConfig(flags));
  try {
    return await work(runtime, cliPrincipal());
  } finally {
    await runtime.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function resolveUserId(runtime: ServiceRuntime, actor: Principal, username: string): Promise<string> {
  const users = await runtime.identity.users.list(actor);
  const user = users.find((entry) => entry.username === username.trim().toLowerCase());
  if (user === undefined) throw new CommanderError(66, 'ironcode.usage', `no user named ${username}`);
  return user.id;
}

const write = (line: string) => process.stdout.write(`${line}\n`);

/** `ironcode admin …`: the same store and audit log as the server, acting as the CLI principal. */
export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('manage users and API keys in the store (the server may be running)');

  storeOptions(admin.command('create-user'))
    .description('create a user; without --password the password is read from standard input')
    .requiredOption('--username <name>', 'login name')
    .option('--password <password>', 'password (prefer standard input: arguments are visible to other local users)')
    .option('--role <role>', 'role (repeatable): viewer, operator, admin, ci, monitoring', collect)
    .action(async (flags: StoreFlags & { username: string; password?: string; role?: string[] }) => {
      const password = flags.password ?? (await readStdin());
      await withRuntime(flags, async (runtime, actor) => {
        const user = await runtime.identity.users.create(actor, { username: flags.username, password, roles: flags.role ?? [] });
        write(`created user ${user.username} (${user.id}) with roles: ${user.roles.join(', ') || 'none'}`);
      });
    });

  storeOptions(admin.command('create-api-key'))
    .description('create an API key; the key is printed once, on the last line')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--role <role>', 'role granted to the key (repeatable)', collect)
    .option('--permission <permission>', 'explicit permission such as tool.*:read (repeatable)', collect)
    .option('--expires <duration>', 'lifetime such as 30d, 12h or 90m (default: never)')
    .option('--user <username>', 'the user the key acts for (default: a service key)')
    .option('--ip <cidr>', 'allowed client address or CIDR block (repeatable)', collect)
    .action(async (flags: StoreFlags & { name: string; role?: string[]; permission?: string[]; expires?: string; user?: string; ip?: string[] }) => {
      const expiresInSeconds = flags.expires === undefined ? undefined : parseDuration(flags.expires, '--expires');
      await withRuntime(flags, async (runtime, actor) => {
        const userId = flags.user === undefined ? undefined : await resolveUserId(runtime, actor, flags.user);
        const { key, view } = await runtime.identity.apiKeys.create(actor, {
          name: flags.name,
          roles: flags.role ?? [],
          permissions: flags.permission ?? [],
          ipAllowlist: flags.ip ?? [],
          ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
          ...(userId === undefined ? {} : { userId }),
        });
        write(`created API key ${view.id} "${view.name}" (${view.userId === null ? 'service key' : `acts for ${flags.user ?? view.userId}`}); roles: ${view.roles.join(', ') || 'none'}; permissions: ${view.permissions.join(', ') || 'none'}; expires: ${view.expiresAt ?? 'never'}`);
        write('The key is shown once; store it now:');
        write(key);
      });
    });

  storeOptions(admin.command('list-users'))
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (flags: StoreFlags & { json?: boolean }) => {
      await withRuntime(flags, async (runtime, actor) => {
        const users = await runtime.identity.users.list(actor);
        if (flags.json) return write(JSON.stringify(users, null, 2));
        for (const user of users) {
          const state = [user.disabled ? 'disabled' : '', user.locked ? 'locked' : '', user.mfaEnabled ? 'mfa' : ''].filter(Boolean).join(',');
          write(`${user.id}  ${user.username.padEnd(20)}  ${user.roles.join(',').padEnd(24)}  ${state || '-'}  last login ${user.lastLoginAt ?? 'never'}`);
        }
        if (users.length === 0) write('no users yet (the first `ironcode serve` creates an admin)');
      });
    });

  storeOptions(admin.command('list-api-keys'))
    .description('list API keys (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (flags: StoreFlags & { json?: boolean }) => {
      await withRuntime(flags, async (runtime, actor) => {
        const keys = await runtime.identity.apiKeys.list(actor);
        if (flags.json) return write(JSON.stringify(keys, null, 2));
        for (const key of keys) {
          const state = key.revokedAt !== null ? 'revoked' : key.expiresAt !== null && Date.parse(key.expiresAt) <= Date.now() ? 'expired' : 'active';
          write(`${key.id}  ${key.name.padEnd(24)}  ${state.padEnd(7)}  roles ${key.roles.join(',') || '-'}  expires ${key.expiresAt ?? 'never'}  last used ${key.lastUsedAt ?? 'never'}`);
        }
      });
    });

  storeOptions(admin.command('revoke-api-key'))
    .description('revoke an API key by id (key_…)')
    .argument('<id>', 'key id as shown by list-api-keys')
    .action(async (id: string, flags: StoreFlags) => {
      await withRuntime(flags, async (runtime, actor) => {
        const view = await runtime.identity.apiKeys.revoke(actor, id);
        write(`revoked API key ${view.id} "${view.name}" at ${view.revokedAt ?? ''}`);
      });
    });

  storeOptions(admin.command('set-roles'))
    .description('replace the roles of a user')
    .requiredOption('--username <name>', 'login name')
    .option('--role <role>', 'role (repeatable; none removes every role)', collect)
    .action(async (flags: StoreFlags & { username: string; role?: string[] }) => {
      await withRuntime(flags, async (runtime, actor) => {
        const user = await runtime.identity.users.setRoles(actor, await resolveUserId(runtime, actor, flags.username), flags.role ?? []);
        write(`${user.username} now has roles: ${user.roles.join(', ') || 'none'}`);
      });
    });

  storeOptions(admin.command('unlock-user'))
    .description('clear a lockout after failed logins')
    .requiredOption('--username <name>', 'login name')
    .action(async (flags: StoreFlags & { username: string }) => {
      await withRuntime(flags, async (runtime, actor) => {
        await runtime.identity.users.updateStatus(actor, await resolveUserId(runtime, actor, flags.username), { unlock: true });
        write(`${flags.username} unlocked`);
      });
    });
}
