import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createScratchDatabase, postgresUrl, redisUrl } from './postgres.js';

describe('test services', () => {
  it('provides a real PostgreSQL server', async () => {
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string }>('select version()');
      expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
    } finally {
      await client.end();
    }
  });

  it('creates and drops scratch databases', async () => {
    const db = await createScratchDatabase(postgresUrl());
    expect(db.url).toMatch(/\/ironcode_t_[0-9a-f]{16}$/);
    const client = new pg.Client({ connectionString: db.url });
    // drop() terminates this session (WITH (FORCE)); pg reports that as an 'error' event.
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query('create table t (id int primary key)');
      await client.query('insert into t values (1), (2)');
      const { rows } = await client.query<{ db: string; n: number }>('select current_database() as db, count(*)::int as n from t');
      expect(rows[0]).toEqual({ db: db.url.split('/').pop(), n: 2 });
    } finally {
      // drop() must succeed even with this connection still open (WITH (FORCE)).
      await db.drop();
      await client.end().catch(() => undefined);
    }

    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [db.url.split('/').pop()]);
      expect(rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('provides a real Redis server', async () => {
    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.ping()).toBe('PONG');
      await redis.set('ironcode:test', 'ok');
      expect(await redis.get('ironcode:test')).toBe('ok');
    } finally {
      await redis.quit();
    }
  });
});
