import { Migrator, sql } from 'kysely';
import { UnavailableError } from '../core/index.js';
import type { Store } from './database.js';
import { MIGRATIONS, migrationProvider } from './migrations/index.js';

export interface MigrationReport {
  /** Migrations this call applied, in order. */
  applied: string[];
  /** Every migration the database now has. */
  current: string[];
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

const TABLE = 'ironcode_migrations';
const LOCK_TABLE = 'ironcode_migrations_lock';

function migrator(store: Store): Migrator {
  return new Migrator({ db: store.db, provider: migrationProvider, migrationTableName: TABLE, migrationLockTableName: LOCK_TABLE });
}

/** Brings the schema to the latest version. Safe to run from several processes at once (Kysely locks). */
export async function migrateToLatest(store: Store): Promise<MigrationReport> {
  // Kysely's migrateToLatest takes its lock in a write transaction even when nothing is
  // pending; every CLI command opens the store, so ask first and skip that commit.
  let before: MigrationStatus;
  try {
    before = await migrationStatus(store);
  } catch (error) {
    throw new UnavailableError(`database migration failed on ${store.location}: ${(error as Error).message}`, { cause: error });
  }
  if (before.pending.length === 0) return { applied: [], current: before.applied };
  const { error, results = [] } = await migrator(store).migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    throw new UnavailableError(`database migration ${failed ?? ''} failed on ${store.location}: ${(error as Error).message}`.replace('  ', ' '), { cause: error });
  }
  const status = await migrationStatus(store);
  return { applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName), current: status.applied };
}

export async function migrationStatus(store: Store): Promise<MigrationStatus> {
  const migrations = await migrator(store).getMigrations();
  return {
    applied: migrations.filter((migration) => migration.executedAt !== undefined).map((migration) => migration.name),
    pending: migrations.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name),
  };
}

/** True when the store answers and every known migration is applied: what `/readyz` reports. */
export async function isReady(store: Store): Promise<{ ready: boolean; reason?: string }> {
  try {
    await sql`select 1`.execute(store.db);
    const { pending } = await migrationStatus(store);
    if (pending.length > 0) return { ready: false, reason: `migrations pending: ${pending.join(', ')}` };
    return { ready: true };
  } catch (error) {
    return { ready: false, reason: `store unreachable: ${(error as Error).message}` };
  }
}

export const MIGRATION_NAMES: readonly string[] = Object.freeze(Object.keys(MIGRATIONS));
