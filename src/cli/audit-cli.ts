import { existsSync } from 'node:fs';
import path from 'node:path';
import { CommanderError } from 'commander';
import type { Command } from 'commander';
import type { AuditDecision } from '../audit/index.js';
import type { Store } from '../store/index.js';
import { loadStoreConfig } from './store-flags.js';
import type { StoreFlags } from './store-flags.js';

async function withStore<T>(flags: StoreFlags, work: (store: Store, dataDir: string) => Promise<T>): Promise<T> {
  const config = loadStoreConfig(flags);
  const { openConfiguredStore } = await import('./configured-store.js');
  const { store } = await openConfiguredStore(config);
  try {
    return await work(store, config.dataDir);
  } finally {
    await store.close();
  }
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CommanderError(2, 'ironcode.usage', `-n must be a whole number from 1 to 1000, got "${value}"`);
  return limit;
}

/** `ironcode audit verify|tail` on the store of the data directory or IRONCODE_DATABASE_URL. */
export function registerAudit(program: Command, exit: { code: number }): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  audit
    .command('verify')
    .description('check the hash chain; exits 1 naming the first bad sequence number')
    .option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)')
    .option('--data-dir <dir>', 'data directory (default: ./.ironcode)')
    .action(async (flags: StoreFlags) => {
      const [{ AUDIT_KEY_ENV, AUDIT_KEY_FILE, loadAuditKey }, { auditVerify }] = await Promise.all([import('../audit/index.js'), import('./audit-commands.js')]);
      await withStore(flags, async (store, dataDir) => {
        // Verifying with a freshly generated key would call every record forged; refuse instead.
        if (!process.env[AUDIT_KEY_ENV] && !existsSync(path.join(dataDir, AUDIT_KEY_FILE))) {
          throw new CommanderError(2, 'ironcode.usage', `no audit key: neither ${AUDIT_KEY_ENV} nor ${path.join(dataDir, AUDIT_KEY_FILE)} exists`);
        }
        exit.code = await auditVerify(store, loadAuditKey(dataDir).key, process.stdout);
      });
    });

  audit
    .command('tail')
    .description('print the latest events, oldest first')
    .option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)')
    .option('--data-dir <dir>', 'data directory (default: ./.ironcode)')
    .option('-n, --limit <count>', 'how many events (default 20)', parseLimit)
    .option('--principal <id>', 'only this principal')
    .option('--action <action>', 'only this action, or a prefix ending in * such as auth.*')
    .option('--decision <decision>', 'allowed, denied or failed')
    .option('--json', 'JSON Lines')
    .action(async (flags: StoreFlags & { limit?: number; principal?: string; action?: string; decision?: string; json?: boolean }) => {
      // An unknown --decision is refused by the audit query's schema, with the allowed values.
      const { auditTail } = await import('./audit-commands.js');
      await withStore(flags, (store) =>
        auditTail(store, { limit: flags.limit ?? 20, json: flags.json === true, principal: flags.principal, action: flags.action, decision: flags.decision as AuditDecision | undefined }, process.stdout),
      );
    });
}
