import { CommanderError } from 'commander';
import { createLogger } from '../core/index.js';
import { createMcpHttpEndpoint } from '../mcp/index.js';
import { buildServer, memoryRateLimiter, redisRateLimiter } from '../server/index.js';
import { openServiceRuntime } from './service-runtime.js';
import { loadStoreConfig } from './store-flags.js';
import { openToolPlane, type ToolPlane } from './tool-plane.js';
import type { StoreFlags } from './store-flags.js';

export interface ServeFlags extends StoreFlags {
  host?: string;
  port?: string;
  profile?: string;
  root?: string[];
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CommanderError(2, 'ironcode.usage', `--port must be a whole number from 0 to 65535, got "${value}"`);
  return port;
}

/**
 * `ironcode serve`: migrate, create the first admin on an empty store, listen, and on
 * SIGINT/SIGTERM finish in-flight requests, flush the audit log and exit.
 */
export async function serve(flags: ServeFlags, version: string): Promise<number> {
  const config = loadStoreConfig(flags, {
    ...(flags.host === undefined && flags.port === undefined
      ? {}
      : { server: { ...(flags.host === undefined ? {} : { host: flags.host }), ...(flags.port === undefined ? {} : { port: parsePort(flags.port) }) } }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
    ...(flags.root === undefined || flags.root.length === 0 ? {} : { roots: flags.root }),
  });
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const runtime = await openServiceRuntime(config, { logger, processMetrics: true });
  let closing: Promise<number> | undefined;
  let plane: ToolPlane | undefined;
  try {
    await runtime.identity.start();
    const admin = await runtime.identity.users.bootstrapAdmin();
    if (admin !== undefined) {
      process.stdout.write(
        [
          'The store was empty, so ironcode created the first administrator.',
          `  username: ${admin.username}`,
          `  password: ${admin.password}`,
          'This password is shown once and is not stored anywhere readable. Log in and change it',
          '(POST /auth/password), or create your own admin with `ironcode admin create-user`.',
          '',
        ].join('\n'),
      );
    }
    plane = await openToolPlane(config, runtime, logger);
    const mcp = createMcpHttpEndpoint({ invoker: plane.invoker, approvals: plane.approvals, version, logger });
    const app = await buildServer({
      mcp,
      approvals: plane.approvals,
      config,
      store: runtime.store,
      identity: runtime.identity,
      audit: runtime.audit,
      auditVerify: runtime.verifyAudit,
      metrics: runtime.metrics,
      logger,
      rateLimiter: runtime.redis ? redisRateLimiter(runtime.redis) : memoryRateLimiter(runtime.clock),
      clock: runtime.clock,
      version,
    });
    const address = await app.listen({ host: config.server.host, port: config.server.port });
    process.stdout.write(`ironcode ${version} listening on ${address} (MCP at ${address}/mcp; store: ${runtime.store.dialect} ${runtime.store.location}${runtime.redis ? ', redis' : ''})\n`);

    return await new Promise<number>((resolve) => {
      const shutdown = (signal: NodeJS.Signals) => {
        if (closing !== undefined) {
          // A second Ctrl-C means now.
          process.stderr.write(`ironcode: ${signal} again; exiting without waiting\n`);
          process.exit(130);
        }
        logger.info({ signal }, 'shutting down: finishing in-flight requests');
        closing = (async () => {
          await app.close();
          await plane?.close();
          await runtime.close();
          logger.info('stopped');
          return 0;
        })();
        closing.then(resolve, (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        });
      };
      // `on`, not `once`: a second signal must reach the handler above. With `once` the
      // second Ctrl-C met Node's default action and killed the process without the message.
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
  } catch (error) {
    if (closing === undefined) {
      await plane?.close().catch(() => undefined);
      await runtime.close().catch(() => undefined);
    }
    throw error;
  }
}
