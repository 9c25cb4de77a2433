export { SQLITE_FILE_NAME, SQLITE_SYNCHRONOUS, openStore } from './database.js';
export type { Dialect, OpenStoreOptions, SqliteSynchronous, Store } from './database.js';
export { MIGRATION_NAMES, isReady, migrateToLatest, migrationStatus } from './migrate.js';
export type { MigrationReport, MigrationStatus } from './migrate.js';
export { loadOrCreateSecretKey } from './key-file.js';
export type { SecretKey, SecretKeySource } from './key-file.js';
export type * from './schema.js';
