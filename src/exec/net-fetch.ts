/**
 * `ctx.net.fetch`: HTTP for tools, behind the SSRF rules. Every URL, and every
 * redirect target, goes through `checkUrl`; the connection is then made only to the
 * addresses that check approved (the agent's DNS lookup is replaced by a table of
 * them), so a name that re-resolves to something else between check and connect
 * (DNS rebinding) cannot reach it.
 */
import { lookup as systemLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Agent } from 'undici';
import { IronError, PolicyDeniedError, TimeoutError, UnavailableError, ValidationError } from '../core/index.js';
import { parseCidr } from '../policy/index.js';
import { checkUrl, type NetworkRules, type Resolve } from '../policy/index.js';

export interface GuardedFetchOptions {
  rules: NetworkRules;
  /** All A and AAAA answers for a name; default `dns.promises.lookup(name, { all: true })`. */
  resolve?: Resolve;
  /** Redirects followed before giving up; default 5, 0 refuses every redirect. */
  maxRedirects?: number;
  /** For the whole call: every hop, redirects and the body included; default 30 s. */
  timeoutMs?: number;
  /** Body bytes kept; the rest is dropped and `truncated` set; default 10 MiB. */
  maxBodyBytes?: number;
}

export interface GuardedFetchInit {
  method?: string;
  /** The `host` header is refused: it always comes from the URL that was checked. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  /** The URL that answered, after redirects. */
  url: string;
  status: number;
  /** Lower-case names; repeated headers (`set-cookie` too) joined with `, `. */
  headers: Record<string, string>;
  body: Uint8Array;
  /** Whether the body was longer than `maxBodyBytes` and was cut. */
  truncated: boolean;
  /** Every redirect target followed, in order. */
  redirects: string[];
  /** The approved addresses the last hop could connect to. */
  addresses: string[];
}

export interface GuardedFetch {
  /**
   * Throws `PolicyDeniedError` (with the rule) for a refused URL or redirect,
   * `TimeoutError` past `timeoutMs`, the caller's abort reason when its signal fires,
   * and an `upstream` IronError when the server cannot be reached.
   */
  fetch(url: string, init?: GuardedFetchInit): Promise<GuardedResponse>;
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

interface Settings {
  rules: NetworkRules;
  resolve: Resolve;
  maxRedirects: number;
  timeoutMs: number;
  maxBodyBytes: number;
}

interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  const settings = validateOptions(options);
  const pinned = new Map<string, string[]>();
  // Undici is used directly rather than global fetch, which would follow HTTP_PROXY
  // settings in some runtimes: a proxy resolves names itself and defeats the pinning.
  // undici costs ~150 ms to import; load it with the first fetch, not with every CLI start.
  let agentLoading: Promise<Agent> | undefined;
  const agent = () =>
    (agentLoading ??= import('undici').then(({ Agent: UndiciAgent }) => new UndiciAgent({ connect: { lookup: pinnedLookup(pinned) } })));
  let closing: Promise<void> | undefined;

  async function admit(raw: string, signal: AbortSignal, redirectedFrom?: string): Promise<{ url: URL; addresses: string[] }> {
    const { decision, url, addresses } = await untilAborted(checkUrl(raw, settings.rules, settings.resolve), signal);
    if (!decision.allowed || !url) {
      const reason = redirectedFrom ? `redirect from ${redirectedFrom} to ${raw} refused: ${decision.reason}` : decision.reason;
      throw new PolicyDeniedError(decision.rule, decision.severity, reason);
    }
    // IP literals (IPv6 ones keep their brackets here) never reach the lookup.
    if (isIP(url.hostname) === 0 && !url.hostname.startsWith('[')) pinned.set(url.hostname, addresses);
    return { url, addresses };
  }

  async function follow(raw: string, init: GuardedFetchInit, signal: AbortSignal): Promise<GuardedResponse> {
    let { url, addresses } = await admit(raw, signal);
    let hop: Hop = { url, method: (init.method ?? 'GET').toUpperCase(), headers: normaliseHeaders(init.headers), body: init.body };
    const redirects: string[] = [];
    for (;;) {
      const response = await (await agent()).request({
        origin: hop.url.origin,
        path: `${hop.url.pathname}${hop.url.search}`,
        method: hop.method,
        headers: hop.headers,
        body: hop.body ?? null,
        signal,
      });
      const location = response.headers.location;
      if (!REDIRECT_STATUSES.has(response.statusCode) || typeof location !== 'string') {
        const { bytes, truncated } = await readCapped(response.body, settings.maxBodyBytes);
        return { url: hop.url.href, status: response.statusCode, headers: flattenHeaders(response.headers), body: bytes, truncated, redirects, addresses };
      }
      // Drained (up to a limit) rather than destroyed, so the connection can be reused.
      await response.body.dump({ limit: 64 * 1024, signal });
      if (redirects.length >= settings.maxRedirects) {
        throw new PolicyDeniedError('url.redirect-limit', 'medium', `${raw} redirected more than ${settings.maxRedirects} times (last to ${location})`);
      }
      const target = URL.canParse(location, hop.url.href) ? new URL(location, hop.url).href : location;
      redirects.push(target);
      ({ url, addresses } = await admit(target, signal, hop.url.href));
      hop = redirectedHop(hop, response.statusCode, url);
    }
  }

  return {
    async fetch(raw, init = {}) {
      if (closing) throw new UnavailableError('this guarded fetch is closed');
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new TimeoutError(`fetching ${raw} took longer than ${settings.timeoutMs} ms`)), settings.timeoutMs);
      const callerSignal = init.signal;
      const onCallerAbort = () => deadline.abort(callerSignal?.reason);
      if (callerSignal?.aborted) onCallerAbort();
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      try {
        return await follow(raw, init, deadline.signal);
      } catch (error) {
        // Whatever undici threw on abort, the caller gets the reason: ours or theirs.
        if (deadline.signal.aborted) throw deadline.signal.reason;
        if (error instanceof IronError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        throw new IronError('upstream', `fetching ${raw} failed: ${message}`, { cause: error });
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
      }
    },
    close() {
      closing ??= (agentLoading ? agentLoading.then((a) => a.close()) : Promise.resolve()).then(() => pinned.clear());
      return closing;
    },
  };
}

function validateOptions(options: GuardedFetchOptions): Settings {
  const issues: { path: string; message: string }[] = [];
  options.rules.allowCidrs.forEach((block, i) => {
    if (!parseCidr(block)) issues.push({ path: `rules.allowCidrs.${i}`, message: `${JSON.stringify(block)} is not a CIDR block` });
  });
  const counts = { maxRedirects: [options.maxRedirects ?? 5, 0], timeoutMs: [options.timeoutMs ?? 30_000, 1], maxBodyBytes: [options.maxBodyBytes ?? 10 * 1024 * 1024, 0] } as const;
  for (const [name, [value, min]] of Object.entries(counts)) {
    if (!Number.isSafeInteger(value) || value < min) issues.push({ path: name, message: `must be an integer of at least ${min}` });
  }
  if (issues.length > 0) throw new ValidationError('invalid guarded fetch options', issues);
  return Object.freeze({
    rules: { allowCidrs: [...options.rules.allowCidrs], allowHosts: [...options.rules.allowHosts] },
    resolve: options.resolve ?? resolveWithSystem,
    maxRedirects: counts.maxRedirects[0],
    timeoutMs: counts.timeoutMs[0],
    maxBodyBytes: counts.maxBodyBytes[0],
  });
}

async function resolveWithSystem(hostname: string): Promise<string[]> {
  const answers = await systemLookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
}

/**
 * Stands in for DNS inside the agent: answers only from the addresses the policy
 * approved for that name, and fails for any name it was not told about.
 */
function pinnedLookup(pinned: ReadonlyMap<string, string[]>): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const answers: LookupAddress[] = (pinned.get(hostname) ?? [])
      .map((address) => ({ address, family: isIP(address) }))
      .filter((answer) => family === 0 || answer.family === family);
    const first = answers[0];
    if (!first) {
      const error: NodeJS.ErrnoException = new Error(`${hostname} has no address approved by the network policy`);
      error.code = 'ENOTFOUND';
      callback(error, '', undefined);
    } else if (options.all) {
      callback(null, answers);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

/** What the next request of a redirect chain sends, as the fetch standard has it. */
function redirectedHop(previous: Hop, status: number, url: URL): Hop {
  const headers = { ...previous.headers };
  let { method, body } = previous;
  if ((status === 303 && method !== 'GET' && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
    method = 'GET';
    body = undefined;
    for (const name of BODY_HEADERS) delete headers[name];
  }
  if (url.origin !== previous.url.origin) {
    for (const name of CREDENTIAL_HEADERS) delete headers[name];
  }
  return { url, method, headers, body };
}

function normaliseHeaders(headers: Record<string, string> = {}): Record<string, string> {
  const normalised: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host') throw new ValidationError('the Host header comes from the URL and cannot be set', [{ path: 'headers.host', message: 'not allowed' }]);
    normalised[lower] = value;
  }
  return normalised;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

async function readCapped(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  // Leaving the loop early destroys the stream, which stops the download.
  for await (const chunk of body) {
    const room = maxBytes - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      size += room;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

/** A resolver cannot be cancelled, but the caller need not wait for it. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
