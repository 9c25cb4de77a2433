import type { Migration, MigrationProvider } from 'kysely';
import { identityAndAudit } from './0001-identity-and-audit.js';
import { approvals } from './0002-approvals.js';

/**
 * Every migration, in order. Names sort lexically (Kysely applies them in name order)
 * and are never renamed once released: the name is what the database remembers.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-identity-and-audit': identityAndAudit,
  '0002-approvals': approvals,
});

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};
