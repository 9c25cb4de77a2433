import type { Logger } from 'pino';
import type { AuditLog, VerifyResult } from '../audit/index.js';
import type { Clock, Config } from '../core/index.js';
import type { Identity } from '../identity/index.js';
import type { McpHttpEndpoint } from '../mcp/index.js';
import type { Metrics } from '../observability/index.js';
import type { Store } from '../store/index.js';
import type { Approvals } from '../tools/index.js';
import type { RateLimiter } from './rate-limiter.js';

/** Everything the HTTP layer uses, built by whoever starts the server (the CLI, a test). */
export interface ServerDeps {
  config: Config;
  store: Store;
  identity: Identity;
  audit: AuditLog;
  auditVerify(): Promise<VerifyResult>;
  metrics: Metrics;
  logger: Logger;
  rateLimiter: RateLimiter;
  clock: Clock;
  version: string;
  /** Streamable HTTP at /mcp; absent, the route does not exist. */
  mcp?: McpHttpEndpoint;
  /** Approval requests of `ask` rules; absent, /approvals answers 503. */
  approvals?: Approvals;
}
