export { SQLITE_FILE_NAME, openStore } from './database.js';
export type { Dialect, OpenStoreOptions, Store } from './database.js';
export { MIGRATION_NAMES, isReady, migrateToLatest, migrationStatus } from './migrate.js';
export type { MigrationReport, MigrationStatus } from './migrate.js';
export { loadOrCreateSecretKey } from './key-file.js';
export type { SecretKey, SecretKeySource } from './key-file.js';
export type * from './schema.js';
