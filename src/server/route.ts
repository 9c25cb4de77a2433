import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../core/index.js';
import type { Principal, RequestMeta } from '../identity/index.js';

export type AuthMode = 'none' | 'required';

export interface RouteInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  /** Present on every route with auth 'required'. */
  principal: Principal;
  meta: RequestMeta;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * A route as data: method, path, schemas and handler. The server turns the list into
 * Fastify routes (auth, permission, rate limits, validation) and into the OpenAPI
 * document, so the two cannot drift apart.
 */
export interface RouteSpec<B = unknown, Q = unknown, P = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  auth: AuthMode;
  /** Checked before the handler runs; finer checks (self vs others) live in identity. */
  permission?: string;
  /** Login-like routes get the stricter per-IP limit. */
  authLimited?: boolean;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  response?: z.ZodType;
  /** Success status; 204 sends no body. */
  status?: 200 | 201 | 204;
  handler(input: RouteInput<B, Q, P>): Promise<unknown>;
}

/** Keeps each route's own type parameters while collecting them into one list. */
export function defineRoute<B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>): RouteSpec {
  return spec as unknown as RouteSpec;
}

export function parsePart<T>(schema: z.ZodType<T> | undefined, value: unknown, part: 'body' | 'query' | 'params'): T {
  if (schema === undefined) return undefined as T;
  const result = schema.safeParse(value ?? (part === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: [part, ...issue.path.map(String)].join('.'), message: issue.message }));
  throw new ValidationError(`invalid ${part}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, issues);
}

/** Every id in a path is one of ours: a prefix and base62, nothing a query could abuse. */
export const idParam = z.strictObject({ id: z.string().regex(/^[a-z]{2,4}_[0-9A-Za-z]{1,64}$/, 'not an ironcode id') });
