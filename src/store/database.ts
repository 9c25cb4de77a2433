import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type PgModule from 'pg';

// pg is loaded only when a PostgreSQL URL is given: it costs ~0.2 s of start-up that
// every SQLite command (`ironcode exec` records its decisions) would otherwise pay.
const requireCjs = createRequire(import.meta.url);
const loadPg = (): typeof PgModule => requireCjs('pg') as typeof PgModule;
import { UnavailableError, ValidationError } from '../core/index.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Where the data lives, safe to print: a file path, or the URL without its password. */
  readonly location: string;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Holds the SQLite file when no URL is given. */
  dataDir: string;
  /** `postgres://…` or `postgresql://…`; anything else is refused. */
  databaseUrl?: string | undefined;
  /** Most PostgreSQL connections in the pool. */
  poolSize?: number;
  /**
   * SQLite durability. `normal` (the default): a commit is in the write-ahead log
   * before it is acknowledged, so it survives ironcode being killed; the log is
   * synced to disk within a second, so power loss or an OS crash may lose the last
   * second. `full`: every commit waits for the disk (about a millisecond each here),
   * surviving power loss too.
   */
  sqliteSynchronous?: SqliteSynchronous;
}

export const SQLITE_SYNCHRONOUS = ['normal', 'full'] as const;
export type SqliteSynchronous = (typeof SQLITE_SYNCHRONOUS)[number];

/** How often `normal` durability syncs the write-ahead log to disk. */
const WAL_SYNC_INTERVAL_MS = 1000;

export const SQLITE_FILE_NAME = 'ironcode.db';

export function openStore(options: OpenStoreOptions): Store {
  const url = options.databaseUrl?.trim();
  if (url === undefined || url === '') return openSqlite(options.dataDir, options.sqliteSynchronous ?? 'normal');
  return openPostgres(url, options.poolSize ?? 10);
}

function openSqlite(dataDir: string, synchronous: SqliteSynchronous): Store {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  let database: SqliteDatabase.Database;
  try {
    database = new SqliteDatabase(file);
    // WAL lets readers run beside the one writer. Other processes (the admin CLI beside
    // a server) wait, not fail. better-sqlite3 is synchronous: with FULL, every commit's
    // fsync stalls the whole event loop (a profile of MCP calls spent 25 % of its time
    // there), hence NORMAL plus a timed sync by default (see OpenStoreOptions).
    database.pragma('journal_mode = WAL');
    database.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    database.pragma('busy_timeout = 10000');
    database.pragma('foreign_keys = ON');
  } catch (error) {
    throw new UnavailableError(`cannot open the SQLite store at ${file}: ${(error as Error).message}`, { cause: error });
  }
  let walSync: NodeJS.Timeout | undefined;
  if (synchronous === 'normal') {
    // A passive checkpoint writes the log into the database and syncs both; it never waits for readers or writers.
    walSync = setInterval(() => {
      try {
        database.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Busy or closing: the next tick (or close) syncs.
      }
    }, WAL_SYNC_INTERVAL_MS);
    walSync.unref();
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    close: () => {
      clearInterval(walSync);
      return db.destroy();
    },
  };
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely asks better-sqlite3 to prepare every query anew, and preparing costs more
 * than running a small query (a profile of authenticated requests spent more time in
 * prepare than anywhere else). Our queries are built from a fixed set of shapes, so
 * the prepared statements are kept, least recently used out. Reuse is safe: Kysely
 * runs each statement to completion synchronously before the next is asked for.
 */
function withStatementCache(database: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      } else {
        statements.delete(sql);
      }
      statements.set(sql, statement);
      return statement;
    },
    close() {
      statements.clear();
      database.close();
    },
  };
}

// bigint (int8) and numeric columns come back as strings by default; ours hold
// milliseconds and sequence numbers, far below 2^53.
const INT8_OID = 20;
function pgTypes(pg: typeof PgModule) {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
}

function openPostgres(url: string, poolSize: number): Store {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError('IRONCODE_DATABASE_URL is not a URL', [{ path: 'IRONCODE_DATABASE_URL', message: 'expected postgres://user:password@host:port/database' }]);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ValidationError(`IRONCODE_DATABASE_URL has scheme ${parsed.protocol}; only postgres:// is supported`, [
      { path: 'IRONCODE_DATABASE_URL', message: 'expected postgres://user:password@host:port/database' },
    ]);
  }
  const pg = loadPg();
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: pgTypes(pg), connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (parsed.password !== '') parsed.password = '***';
  return { db, dialect: 'postgres', location: parsed.toString(), close: () => db.destroy() };
}
