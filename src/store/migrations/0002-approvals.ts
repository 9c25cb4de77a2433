import type { Kysely, Migration } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Approvals: a call the profile marks `ask` waits for a person. A row is bound to the
 * principal that asked and a hash of the exact action; a grant has an expiry and is
 * used once.
 */
export const approvals: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('approvals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('principal_id', 'text', (c) => c.notNull())
      .addColumn('principal_name', 'text', (c) => c.notNull())
      .addColumn('action_hash', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('tool', 'text', (c) => c.notNull())
      .addColumn('rule', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('decided_by', 'text')
      .addColumn('decided_at', 'bigint')
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('approvals_lookup').on('approvals').columns(['principal_id', 'action_hash', 'status']).execute();
    await db.schema.createIndex('approvals_status').on('approvals').columns(['status', 'requested_at']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('approvals').execute();
  },
};
