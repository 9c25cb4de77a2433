import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PolicyDeniedError, TimeoutError, UnavailableError, ValidationError } from '../core/index.js';
import type { NetworkRules, Resolve } from '../policy/index.js';
import { createGuardedFetch, type GuardedFetch, type GuardedFetchOptions } from './net-fetch.js';

/** What the test server saw, per request. */
interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let port: number;
let base: string;
let seen: Seen[] = [];
const LOOPBACK_ONLY: NetworkRules = { allowCidrs: ['127.0.0.1/32'], allowHosts: [] };
/** A name no real DNS will ever answer (RFC 6761). */
const PINNED_NAME = 'pinned.ironcode.invalid';

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://test');
      seen.push({ method: request.method ?? '', path: url.pathname, headers: request.headers, body: Buffer.concat(chunks).toString() });
      route(url, request.method ?? 'GET', response);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

function route(url: URL, method: string, response: ServerResponse): void {
  switch (url.pathname) {
    case '/ok':
      response.setHeader('set-cookie', ['a=1', 'b=2']);
      response.end('hello');
      return;
    case '/echo':
      response.end(method);
      return;
    case '/redirect':
      response.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/ok' });
      response.end('moved');
      return;
    case '/loop':
      response.writeHead(302, { location: '/loop' });
      response.end();
      return;
    case '/big':
      response.write(Buffer.alloc(64 * 1024, 'a'));
      response.end(Buffer.alloc(64 * 1024, 'b'));
      return;
    case '/exact':
      response.end(Buffer.alloc(1000, 'x'));
      return;
    case '/hang':
      return;
    case '/slow-body':
      response.write('start');
      return;
    default:
      response.writeHead(404);
      response.end();
  }
}

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
  // With every fetcher and the server closed, nothing of ours may keep the process alive.
  expect(await settles(() => tcpHandles().length === 0)).toBe(true);
});

function tcpHandles(): string[] {
  return process.getActiveResourcesInfo().filter((kind) => kind.startsWith('TCP'));
}

/** Whether `condition` holds within a second; closing sockets takes a few ticks. */
async function settles(condition: () => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 50 && !condition(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  return condition();
}

let fetchers: GuardedFetch[] = [];
function guarded(options: Partial<GuardedFetchOptions> = {}): GuardedFetch {
  const fetcher = createGuardedFetch({ rules: LOOPBACK_ONLY, resolve: refuseToResolve, ...options });
  fetchers.push(fetcher);
  return fetcher;
}

beforeEach(() => {
  seen = [];
});

afterEach(async () => {
  await Promise.all(fetchers.map((fetcher) => fetcher.close()));
  fetchers = [];
});

const refuseToResolve: Resolve = async (hostname) => {
  throw new Error(`unexpected lookup of ${hostname}`);
};

/** Answers every name with `addresses` and counts the lookups. */
function resolverAnswering(...addresses: string[]): Resolve & { calls: string[] } {
  const calls: string[] = [];
  return Object.assign(
    async (hostname: string) => {
      calls.push(hostname);
      return addresses;
    },
    { calls },
  );
}

async function denial(promise: Promise<unknown>): Promise<PolicyDeniedError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PolicyDeniedError);
  return error as PolicyDeniedError;
}

describe('an allowed fetch', () => {
  it('returns status, headers and body', async () => {
    const response = await guarded().fetch(`${base}/ok?x=1#fragment`);
    expect(response).toMatchObject({ url: `${base}/ok?x=1#fragment`, status: 200, truncated: false, redirects: [], addresses: ['127.0.0.1'] });
    expect(Buffer.from(response.body).toString()).toBe('hello');
    expect(response.headers['set-cookie']).toBe('a=1, b=2');
    expect(response.headers['content-length']).toBe('5');
    expect(seen).toMatchObject([{ method: 'GET', path: '/ok' }]);
  });

  it('sends the method, headers and body it is given', async () => {
    const response = await guarded().fetch(`${base}/echo`, { method: 'put', headers: { 'X-Trace': 'abc' }, body: 'payload' });
    expect(Buffer.from(response.body).toString()).toBe('PUT');
    expect(seen[0]).toMatchObject({ method: 'PUT', body: 'payload', headers: { 'x-trace': 'abc' } });
  });

  it('reports an unreachable server as an upstream error', async () => {
    const error = await guarded().fetch('http://127.0.0.1:1/').catch((reason: unknown) => reason);
    expect(error).toMatchObject({ kind: 'upstream', code: 'IRON_UPSTREAM' });
  });

  it('refuses to let the caller choose the Host header', async () => {
    await expect(guarded().fetch(`${base}/ok`, { headers: { Host: 'elsewhere' } })).rejects.toBeInstanceOf(ValidationError);
    expect(seen).toEqual([]);
  });
});

describe('the URL policy', () => {
  it('refuses loopback when the profile does not allow it, before connecting', async () => {
    const fetcher = guarded({ rules: { allowCidrs: [], allowHosts: [] } });
    const error = await denial(fetcher.fetch(`${base}/ok`));
    expect(error).toMatchObject({ rule: 'url.loopback', severity: 'high', code: 'IRON_POLICY_DENIED' });
    expect((await denial(fetcher.fetch(`http://2130706433:${port}/ok`))).rule).toBe('url.loopback');
    expect((await denial(fetcher.fetch(`http://localhost:${port}/ok`))).rule).toBe('url.localhost');
    expect((await denial(fetcher.fetch('file:///etc/passwd'))).rule).toBe('url.scheme');
    expect(seen).toEqual([]);
  });

  it('rejects options it cannot honour at construction', () => {
    expect(() => createGuardedFetch({ rules: { allowCidrs: ['10.0.0.0'], allowHosts: [] } })).toThrow(ValidationError);
    expect(() => createGuardedFetch({ rules: LOOPBACK_ONLY, maxRedirects: -1 })).toThrow(ValidationError);
    expect(() => createGuardedFetch({ rules: LOOPBACK_ONLY, timeoutMs: 0 })).toThrow(ValidationError);
  });
});

describe('pinned DNS', () => {
  it('connects to the address the policy checked, with no lookup of its own', async () => {
    const resolve = resolverAnswering('127.0.0.1');
    const response = await guarded({ resolve }).fetch(`http://${PINNED_NAME}:${port}/ok`);
    expect(response.status).toBe(200);
    expect(response.addresses).toEqual(['127.0.0.1']);
    expect(resolve.calls).toEqual([PINNED_NAME]);
    expect(seen[0]?.headers.host).toBe(`${PINNED_NAME}:${port}`);
  });

  it('lets an allowed host past the localhost rule but still checks its address', async () => {
    const rules: NetworkRules = { allowCidrs: ['127.0.0.1/32'], allowHosts: ['dev.localhost'] };
    const response = await guarded({ rules, resolve: resolverAnswering('127.0.0.1') }).fetch(`http://dev.localhost:${port}/ok`);
    expect(response.status).toBe(200);
    const error = await denial(guarded({ rules, resolve: resolverAnswering('127.0.0.3') }).fetch(`http://dev.localhost:${port}/ok`));
    expect(error.rule).toBe('url.loopback');
  });

  it('refuses a name that resolves to a private address before connecting', async () => {
    const error = await denial(guarded({ resolve: resolverAnswering('10.0.0.1') }).fetch(`http://${PINNED_NAME}:${port}/ok`));
    expect(error).toMatchObject({ rule: 'url.private', severity: 'high' });
    expect(error.message).toBe(`${PINNED_NAME} resolves to 10.0.0.1: 10.0.0.1 is a private address (10.0.0.0/8)`);
    expect(seen).toEqual([]);
  });

  it('refuses a name when one of several addresses is private', async () => {
    const error = await denial(guarded({ resolve: resolverAnswering('127.0.0.1', '192.168.1.20') }).fetch(`http://${PINNED_NAME}:${port}/ok`));
    expect(error.rule).toBe('url.private');
    const mixed = await denial(guarded({ resolve: resolverAnswering('93.184.216.34', '10.0.0.1') }).fetch('http://mixed.ironcode.invalid/'));
    expect(mixed.rule).toBe('url.private');
    expect(seen).toEqual([]);
  });

  it('checks again on every fetch, so a rebinding answer is refused', async () => {
    let answer = '127.0.0.1';
    const fetcher = guarded({ resolve: async () => [answer] });
    expect((await fetcher.fetch(`http://${PINNED_NAME}:${port}/ok`)).status).toBe(200);
    answer = '169.254.169.254';
    expect((await denial(fetcher.fetch(`http://${PINNED_NAME}:${port}/ok`))).rule).toBe('url.metadata');
    expect(seen).toHaveLength(1);
  });

  it('refuses a name that resolves to nothing', async () => {
    expect((await denial(guarded({ resolve: resolverAnswering() }).fetch(`http://${PINNED_NAME}/`))).rule).toBe('url.unresolvable');
  });
});

describe('redirects', () => {
  const to = (target: string, status = 302) => `${base}/redirect?status=${status}&to=${encodeURIComponent(target)}`;

  it('follows relative redirects and records them', async () => {
    const response = await guarded().fetch(to('/redirect?to=%2Fok', 301));
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${base}/ok`);
    expect(response.redirects).toEqual([`${base}/redirect?to=%2Fok`, `${base}/ok`]);
  });

  it('refuses a redirect to the metadata address, whatever the profile allows', async () => {
    const rules: NetworkRules = { allowCidrs: ['127.0.0.1/32', '169.254.0.0/16'], allowHosts: [] };
    const error = await denial(guarded({ rules }).fetch(to('http://169.254.169.254/latest/meta-data/')));
    expect(error).toMatchObject({ rule: 'url.metadata', severity: 'critical' });
    expect(error.message).toContain('redirect from');
    expect(error.message).toContain('169.254.169.254 is the cloud metadata address');
  });

  it('refuses a redirect to a loopback address outside the allowed block', async () => {
    const error = await denial(guarded().fetch(to('http://127.0.0.2/')));
    expect(error.rule).toBe('url.loopback');
    expect((await denial(guarded().fetch(to('http://[::ffff:127.0.0.2]/', 307)))).rule).toBe('url.loopback');
    expect((await denial(guarded().fetch(to('file:///etc/passwd')))).rule).toBe('url.scheme');
    expect((await denial(guarded().fetch(to('http://user:pw@127.0.0.1/')))).rule).toBe('url.userinfo');
  });

  it('stops a redirect loop at the limit', async () => {
    const error = await denial(guarded({ maxRedirects: 3 }).fetch(`${base}/loop`));
    expect(error.rule).toBe('url.redirect-limit');
    expect(seen).toHaveLength(4);
    seen = [];
    expect((await denial(guarded({ maxRedirects: 0 }).fetch(to('/ok')))).rule).toBe('url.redirect-limit');
    expect(seen).toHaveLength(1);
  });

  it('turns a POST into a GET on 303 and keeps it on 307', async () => {
    const fetcher = guarded();
    const init = { method: 'POST', body: 'data', headers: { 'content-type': 'text/plain' } };
    expect(Buffer.from((await fetcher.fetch(to('/echo', 303), init)).body).toString()).toBe('GET');
    expect(seen[1]).toMatchObject({ method: 'GET', body: '' });
    expect(seen[1]?.headers['content-type']).toBeUndefined();
    seen = [];
    expect(Buffer.from((await fetcher.fetch(to('/echo', 307), init)).body).toString()).toBe('POST');
    expect(seen[1]).toMatchObject({ method: 'POST', body: 'data' });
  });

  it('drops credentials when the redirect leaves the origin', async () => {
    const fetcher = guarded({ resolve: resolverAnswering('127.0.0.1') });
    const headers = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Other': 'kept' };
    await fetcher.fetch(to(`http://${PINNED_NAME}:${port}/ok`), { headers });
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Bearer secret', cookie: 'session=1' });
    expect(seen[1]?.headers.authorization).toBeUndefined();
    expect(seen[1]?.headers.cookie).toBeUndefined();
    expect(seen[1]?.headers['x-other']).toBe('kept');
  });
});

describe('limits', () => {
  it('truncates a body over the cap', async () => {
    const response = await guarded({ maxBodyBytes: 1000 }).fetch(`${base}/big`);
    expect(response.body.length).toBe(1000);
    expect(response.truncated).toBe(true);
    const exact = await guarded({ maxBodyBytes: 1000 }).fetch(`${base}/exact`);
    expect(exact.body.length).toBe(1000);
    expect(exact.truncated).toBe(false);
  });

  it('times out a server that does not answer', async () => {
    const started = Date.now();
    const error = await guarded({ timeoutMs: 200 }).fetch(`${base}/hang`).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('times out a body that never ends', async () => {
    await expect(guarded({ timeoutMs: 200 }).fetch(`${base}/slow-body`)).rejects.toBeInstanceOf(TimeoutError);
  });

  it('times out a resolver that never answers', async () => {
    const fetcher = guarded({ timeoutMs: 100, resolve: () => new Promise<string[]>(() => undefined) });
    await expect(fetcher.fetch(`http://${PINNED_NAME}/`)).rejects.toBeInstanceOf(TimeoutError);
  });

  it("honours the caller's signal", async () => {
    const controller = new AbortController();
    const pending = guarded().fetch(`${base}/hang`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(guarded().fetch(`${base}/ok`, { signal: AbortSignal.abort(new Error('gave up')) })).rejects.toThrow('gave up');
  });
});

describe('close', () => {
  it('releases its kept-alive connections, refuses fetches afterwards and can be called twice', async () => {
    const before = tcpHandles().length;
    const fetcher = guarded();
    await fetcher.fetch(`${base}/ok`);
    expect(tcpHandles().length).toBeGreaterThan(before);
    await fetcher.close();
    expect(await settles(() => tcpHandles().length === before)).toBe(true);
    await fetcher.close();
    await expect(fetcher.fetch(`${base}/ok`)).rejects.toBeInstanceOf(UnavailableError);
  });
});
