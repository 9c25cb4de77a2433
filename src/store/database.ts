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
}

export const SQLITE_FILE_NAME = 'ironcode.db';

export function openStore(options: OpenStoreOptions): Store {
  const url = options.databaseUrl?.trim();
  if (url === undefined || url === '') return openSqlite(options.dataDir);
  return openPostgres(url, options.poolSize ?? 10);
}

function openSqlite(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  let database: SqliteDatabase.Database;
  try {
    database = new SqliteDatabase(file);
    // WAL lets readers run beside the one writer; FULL makes a commit survive power loss,
    // not only a crash. Other processes (the admin CLI beside a server) wait, not fail.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.pragma('busy_timeout = 10000');
    database.pragma('foreign_keys = ON');
  } catch (error) {
    throw new UnavailableError(`cannot open the SQLite store at ${file}: ${(error as Error).message}`, { cause: error });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return { db, dialect: 'sqlite', location: file, close: () => db.destroy() };
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
