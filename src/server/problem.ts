import { ERROR_KINDS, IronError, ValidationError, toIronError } from '../core/index.js';
import type { ErrorKind } from '../core/index.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** RFC 9457 problem details, with ironcode's stable code beside the status. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  requestId?: string;
  issues?: readonly { path: string; message: string }[];
  [extension: string]: unknown;
}

const TITLES: Record<ErrorKind, string> = {
  validation: 'Invalid request',
  unauthenticated: 'Authentication required',
  forbidden: 'Forbidden',
  policyDenied: 'Refused by the safety policy',
  notFound: 'Not found',
  conflict: 'Conflict',
  payloadTooLarge: 'Request body too large',
  rateLimited: 'Too many requests',
  timeout: 'Timed out',
  cancelled: 'Cancelled by the client',
  upstream: 'Upstream failure',
  unavailable: 'Unavailable',
  internal: 'Internal error',
};

/** Fastify's own client errors (bad JSON, wrong media type, oversized body) into the family. */
function fromFastify(error: { code?: string; statusCode?: number; message: string }): IronError | undefined {
  if (typeof error.code !== 'string' || !error.code.startsWith('FST_')) return undefined;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new IronError('payloadTooLarge', 'the request body is larger than this server accepts');
  if (error.statusCode === 415) return new ValidationError('unsupported content type; send application/json', [{ path: 'content-type', message: 'expected application/json' }]);
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new ValidationError(`malformed request: ${error.message.replace(/^FST_\w+: /, '')}`, [{ path: 'body', message: error.message }]);
  }
  return undefined;
}

export function toProblem(error: unknown, context: { instance: string; requestId: string }): Problem {
  const fastify = typeof error === 'object' && error !== null ? fromFastify(error as { code?: string; message: string }) : undefined;
  const iron = fastify ?? toIronError(error);
  const spec = ERROR_KINDS[iron.kind];
  // Internal errors keep their message to the log: a client sees that it failed and the request id to quote.
  const detail = iron.kind === 'internal' ? 'the server failed to handle this request; quote the request id when reporting it' : iron.message;
  const { issues, ...details } = iron.details as { issues?: Problem['issues'] } & Record<string, unknown>;
  return {
    ...(iron.kind === 'internal' ? {} : details),
    type: `urn:ironcode:problem:${iron.kind}`,
    title: TITLES[iron.kind],
    status: spec.status,
    code: spec.code,
    detail,
    instance: context.instance,
    requestId: context.requestId,
    ...(issues === undefined || issues.length === 0 ? {} : { issues }),
  };
}
