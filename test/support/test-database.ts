import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openStore } from '../../src/store/index.js';
import type { Dialect, Store } from '../../src/store/index.js';
import { createScratchDatabase, postgresUrl } from './postgres.js';
import type { ScratchDatabase } from './postgres.js';

/** One migrated database for a test; `open()` gives further, independent connections to it. */
export interface TestDatabase {
  store: Store;
  open(): Store;
  dispose(): Promise<void>;
}

/** A fresh SQLite data dir, or a scratch database on the run's PostgreSQL, migrated. */
export async function testDatabase(dialect: Dialect): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ironcode-db-'));
  const scratch: ScratchDatabase | undefined = dialect === 'postgres' ? await createScratchDatabase(postgresUrl()) : undefined;
  const stores: Store[] = [];
  const open = () => {
    const store = openStore({ dataDir, databaseUrl: scratch?.url });
    stores.push(store);
    return store;
  };
  const store = open();
  await migrateToLatest(store);
  return {
    store,
    open,
    async dispose() {
      await Promise.all(stores.map((s) => s.close()));
      await scratch?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
