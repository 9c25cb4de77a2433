import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per server (never prom-client's global), so tests can run several
 * servers in a process and each reports only its own numbers.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly authFailures: Counter<'kind'>;
  readonly rateLimited: Counter<'scope'>;
  readonly auditWriteSeconds: Histogram;
  readonly auditBatchSize: Histogram;
  readonly toolCalls: Counter<'tool' | 'outcome'>;
  readonly toolDuration: Histogram<'tool'>;
  render(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'ironcode_' });
  const httpRequests = new Counter({
    name: 'ironcode_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'ironcode_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'ironcode_auth_failures_total',
    help: 'Refused authentications, by credential kind (password, token, api-key, refresh).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'ironcode_rate_limited_total',
    help: 'Requests answered 429, by limit (ip, principal, auth).',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const auditWriteSeconds = new Histogram({
    name: 'ironcode_audit_write_seconds',
    help: 'Time to commit one group of audit events, durably.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  const auditBatchSize = new Histogram({
    name: 'ironcode_audit_batch_events',
    help: 'Audit events written per group commit.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [registry],
  });
  const toolCalls = new Counter({
    name: 'ironcode_tool_calls_total',
    help: 'Tool calls through the invoke pipeline, by tool and outcome (ok, invalid, forbidden, denied, limited, cancelled, failed).',
    labelNames: ['tool', 'outcome'] as const,
    registers: [registry],
  });
  const toolDuration = new Histogram({
    name: 'ironcode_tool_call_seconds',
    help: 'Time from the call reaching invoke to its result, audit included.',
    labelNames: ['tool'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [registry],
  });
  return {
    registry,
    toolCalls,
    toolDuration,
    httpRequests,
    httpDuration,
    authFailures,
    rateLimited,
    auditWriteSeconds,
    auditBatchSize,
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
