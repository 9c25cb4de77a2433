import type { Command } from 'commander';
import { loadStoreConfig } from './store-flags.js';
import type { StoreFlags } from './store-flags.js';

/** `ironcode db migrate|status` on the store of the data directory or IRONCODE_DATABASE_URL. */
export function registerDb(program: Command): void {
  const db = program.command('db').description('the database schema');
  for (const [name, description] of [
    ['migrate', 'apply every pending migration'],
    ['status', 'list applied and pending migrations'],
  ] as const) {
    db.command(name)
      .description(description)
      .option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)')
      .option('--data-dir <dir>', 'data directory (default: ./.ironcode)')
      .action(async (flags: StoreFlags) => {
        const config = loadStoreConfig(flags);
        const { migrateToLatest, migrationStatus, openStore } = await import('../store/index.js');
        const store = openStore({ dataDir: config.dataDir, databaseUrl: process.env.IRONCODE_DATABASE_URL, sqliteSynchronous: config.store.sqliteSynchronous });
        try {
          if (name === 'migrate') {
            const report = await migrateToLatest(store);
            process.stdout.write(
              report.applied.length === 0
                ? `${store.location}: up to date (${report.current.length} migrations)\n`
                : `${store.location}: applied ${report.applied.join(', ')}\n`,
            );
          } else {
            const status = await migrationStatus(store);
            for (const applied of status.applied) process.stdout.write(`applied  ${applied}\n`);
            for (const pending of status.pending) process.stdout.write(`pending  ${pending}\n`);
          }
        } finally {
          await store.close();
        }
      });
  }
}
