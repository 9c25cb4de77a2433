import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createAuditLog, loadAuditKey, verifyAuditLog } from '../audit/index.js';
import type { AuditLog } from '../audit/index.js';
import { UnavailableError, systemClock } from '../core/index.js';
import type { Clock, Config } from '../core/index.js';
import { createIdentity, redisRevocations } from '../identity/index.js';
import type { Identity } from '../identity/index.js';
import { createMetrics } from '../observability/index.js';
import type { Metrics } from '../observability/index.js';
import { loadOrCreateSecretKey } from '../store/index.js';
import type { MigrationReport, Store } from '../store/index.js';
import { openConfiguredStore } from './configured-store.js';

export const SECRET_KEY_FILE = 'secret.key';
export const SECRET_KEY_ENV = 'IRONCODE_SECRET_KEY';

export interface ServiceRuntime {
  config: Config;
  store: Store;
  migrations: MigrationReport;
  auditKey: Buffer;
  audit: AuditLog;
  identity: Identity;
  metrics: Metrics;
  redis: Redis | undefined;
  clock: Clock;
  verifyAudit(): ReturnType<typeof verifyAuditLog>;
  /** Flushes the audit log, then closes Redis and the store. */
  close(): Promise<void>;
}

/** The URL without its password, safe to print. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000 });
  // ioredis rejects connect() with a bare "Connection is closed."; the socket error
  // before it (ECONNREFUSED host:port, ENOTFOUND name) is what the operator needs.
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const reason = lastError?.message ?? (error as Error).message;
    throw new UnavailableError(`cannot reach Redis at IRONCODE_REDIS_URL (${redactedUrl(url)}): ${reason}`, { cause: error });
  }
  return redis;
}

/**
 * Opens everything the server and the admin commands share: config, the store
 * (migrated to the latest schema), keys, the audit log, identity and, when
 * IRONCODE_REDIS_URL is set, Redis.
 */
export async function openServiceRuntime(config: Config, options: { env?: NodeJS.ProcessEnv; logger?: Logger; processMetrics?: boolean } = {}): Promise<ServiceRuntime> {
  const env = options.env ?? process.env;
  const clock = systemClock;
  const { store, migrations } = await openConfiguredStore(config, env);
  const opened: { redis?: Redis; audit?: AuditLog } = {};
  try {
    if (migrations.applied.length > 0) options.logger?.info({ applied: migrations.applied, store: store.location }, 'database migrated');
    const auditKey = loadAuditKey(config.dataDir, env).key;
    const secretKey = loadOrCreateSecretKey({ dataDir: config.dataDir, fileName: SECRET_KEY_FILE, envName: SECRET_KEY_ENV, env }).key;
    const metrics = createMetrics({ processMetrics: options.processMetrics ?? false });
    const audit = createAuditLog(store, {
      key: auditKey,
      clock,
      maxBatch: config.audit.maxBatch,
      onCommit: (events, durationMs) => {
        metrics.auditBatchSize.observe(events);
        metrics.auditWriteSeconds.observe(durationMs / 1000);
      },
    });
    opened.audit = audit;
    const redisUrl = env.IRONCODE_REDIS_URL;
    const redis = redisUrl === undefined || redisUrl === '' ? undefined : await connectRedis(redisUrl);
    if (redis) opened.redis = redis;
    const identity = createIdentity({ store, audit, auth: config.auth, secretKey, clock, ...(redis ? { revocations: redisRevocations(redis) } : {}) });
    return {
      config,
      store,
      migrations,
      auditKey,
      audit,
      identity,
      metrics,
      redis,
      clock,
      verifyAudit: () => verifyAuditLog(store, auditKey),
      async close() {
        await audit.close();
        if (redis) await redis.quit().catch(() => redis.disconnect());
        await store.close();
      },
    };
  } catch (error) {
    await opened.audit?.close().catch(() => undefined);
    opened.redis?.disconnect();
    await store.close();
    throw error;
  }
}
