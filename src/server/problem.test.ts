import { describe, expect, it } from 'vitest';
import { ConflictError, ForbiddenError, IronError, NotFoundError, UnauthenticatedError, ValidationError } from '../core/index.js';
import { toProblem } from './problem.js';

const context = { instance: '/x', requestId: 'req_1' };

describe('toProblem', () => {
  it.each([
    [new ValidationError('bad', [{ path: 'body.name', message: 'required' }]), 400, 'IRON_VALIDATION'],
    [new UnauthenticatedError(), 401, 'IRON_UNAUTHENTICATED'],
    [new ForbiddenError('no', 'users:read'), 403, 'IRON_FORBIDDEN'],
    [new NotFoundError('gone'), 404, 'IRON_NOT_FOUND'],
    [new ConflictError('exists'), 409, 'IRON_CONFLICT'],
    [new IronError('rateLimited', 'slow down', { details: { retryAfterSeconds: 3 } }), 429, 'IRON_RATE_LIMITED'],
  ])('maps %s to its status and stable code', (error, status, code) => {
    const problem = toProblem(error, context);
    expect(problem).toMatchObject({ status, code, detail: error.message, instance: '/x', requestId: 'req_1' });
    expect(problem.type).toMatch(/^urn:ironcode:problem:/);
  });

  it('keeps the issues and safe details', () => {
    expect(toProblem(new ValidationError('bad', [{ path: 'body.name', message: 'required' }]), context).issues).toEqual([{ path: 'body.name', message: 'required' }]);
    expect(toProblem(new ForbiddenError('no', 'users:read'), context).permission).toBe('users:read');
  });

  it('never shows an internal error’s message or stack', () => {
    const problem = toProblem(new Error('connection string postgres://u:secret@db failed at /srv/app.js:12'), context);
    expect(problem).toMatchObject({ status: 500, code: 'IRON_INTERNAL' });
    expect(JSON.stringify(problem)).not.toMatch(/secret|app\.js|stack/);
  });

  it('turns Fastify’s own client errors into the family', () => {
    expect(toProblem(Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }), context)).toMatchObject({
      status: 413,
      code: 'IRON_PAYLOAD_TOO_LARGE',
    });
    expect(toProblem(Object.assign(new Error("Unexpected token 'x'"), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }), context)).toMatchObject({
      status: 400,
      code: 'IRON_VALIDATION',
    });
    expect(toProblem(Object.assign(new Error('Unsupported Media Type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }), context).detail).toMatch(/application\/json/);
  });
});
