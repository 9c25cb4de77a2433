import type { Logger } from '../core/index.js';
import type { Config } from '../core/index.js';
import type { Metrics } from '../observability/index.js';
import { builtinRegistry, createAdmission, createApprovals, createInvoker, createToolEnvironment, type Approvals, type Invoker, type ToolEnvironment } from '../tools/index.js';
import { policyFor } from './runtime.js';
import type { ServiceRuntime } from './service-runtime.js';

export interface ToolPlane {
  invoker: Invoker;
  environment: ToolEnvironment;
  approvals: Approvals;
  /** Stops process sessions and network connections; the service runtime is closed by its owner. */
  close(): Promise<void>;
}

/** The invoke pipeline over the configured roots and profile, auditing into the runtime's log. */
export async function openToolPlane(config: Config, runtime: Pick<ServiceRuntime, 'identity' | 'audit' | 'store' | 'clock'> & { metrics?: Metrics }, logger: Logger): Promise<ToolPlane> {
  const { profile, policy } = await policyFor(config);
  const sessions = config.tools.sessions;
  const approvals = createApprovals({ db: runtime.store.db, audit: runtime.audit, rbac: runtime.identity.rbac, clock: runtime.clock });
  const environment = await createToolEnvironment({
    policy,
    profile,
    dataDir: config.dataDir,
    logger,
    sessions: { maxSessions: sessions.max, ttlMs: sessions.ttlSeconds * 1000, maxLifetimeMs: sessions.maxLifetimeSeconds * 1000 },
    approvals,
  });
  const metrics = runtime.metrics;
  const invoker = createInvoker({
    registry: builtinRegistry(),
    rbac: runtime.identity.rbac,
    audit: runtime.audit,
    admission: createAdmission(config.tools),
    contexts: environment,
    logger,
    ...(metrics === undefined
      ? {}
      : {
          metrics: {
            observe(tool, outcome, seconds) {
              metrics.toolCalls.inc({ tool, outcome });
              metrics.toolDuration.observe({ tool }, seconds);
            },
          },
        }),
  });
  return { invoker, environment, approvals, close: () => environment.close() };
}
