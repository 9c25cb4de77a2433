import type { Config } from '../core/index.js';
import { migrateToLatest, openStore } from '../store/index.js';
import type { MigrationReport, Store } from '../store/index.js';

/**
 * The configured store (SQLite in the data directory, or IRONCODE_DATABASE_URL),
 * migrated to the latest schema; closed again when migrating fails.
 */
export async function openConfiguredStore(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<{ store: Store; migrations: MigrationReport }> {
  const store = openStore({ dataDir: config.dataDir, databaseUrl: env.IRONCODE_DATABASE_URL, sqliteSynchronous: config.store.sqliteSynchronous });
  try {
    return { store, migrations: await migrateToLatest(store) };
  } catch (error) {
    await store.close();
    throw error;
  }
}
