/**
 * Test helpers for the real PostgreSQL and Redis servers that ./services.ts (the
 * vitest globalSetup) starts for the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** Admin URL of the run's PostgreSQL server (may CREATE DATABASE). */
export function postgresUrl(): string {
  return inject('postgresUrl');
}

/** URL of the run's Redis server. */
export function redisUrl(): string {
  return inject('redisUrl');
}

export interface ScratchDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  /** Drops the database, closing any connections still open to it. Idempotent. */
  drop(): Promise<void>;
}

/** Creates an empty, uniquely named database (`ironcode_t_<hex>`) on the server at adminUrl. */
export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  const name = `ironcode_t_${randomBytes(8).toString('hex')}`;
  // CREATE DATABASE fails with object_in_use (55006) while another session is
  // connected to the template; that is transient, so retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
      break;
    } catch (error) {
      if (attempt >= 5 || (error as { code?: string }).code !== '55006') throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      dropped ??= withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(
        () => undefined,
      );
      return dropped;
    },
  };
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
