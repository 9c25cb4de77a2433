// Authentication cost. In-process: checking an access token the way every request
// does (signature and claims, or the verified-token cache for a token seen before;
// then the session and user lookups) against jose's bare signature and claim check as
// the baseline. Over HTTP against the real server: authorised requests
// per second with an access token and with an API key, against the unauthenticated
// /healthz of the same server as the baseline, and logins per second (scrypt-bound).
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Pool } from 'undici';
import { createAuditLog } from '../dist/audit/index.js';
import { configFieldsSchema } from '../dist/core/index.js';
import { cliPrincipal, createIdentity } from '../dist/identity/index.js';
import { migrateToLatest, openStore } from '../dist/store/index.js';
import { summarise, timeEach } from './stats.js';

const BIN = fileURLToPath(new URL('../bin/ironcode.js', import.meta.url));

async function inProcess(iterations) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ironcode-bench-jwt-'));
  const store = openStore({ dataDir });
  await migrateToLatest(store);
  const auth = configFieldsSchema.parse({}).auth;
  const audit = createAuditLog(store, { key: Buffer.alloc(32, 7) });
  const identity = createIdentity({ store, audit, auth, secretKey: Buffer.alloc(32, 9) });
  await identity.start();
  await identity.users.create(cliPrincipal(), { username: 'bench', password: 'correct violet staple 42', roles: ['operator'] });
  const { access_token, refresh_token } = await identity.login({ username: 'bench', password: 'correct violet staple 42' });
  // Fresh tokens (never verified before) come from refreshes, which cost no scrypt.
  const fresh = [];
  let refreshToken = refresh_token;
  for (let i = 0; i < iterations / 5 + 200; i++) {
    const pair = await identity.refresh(refreshToken, {});
    refreshToken = pair.refresh_token;
    fresh.push(pair.access_token);
  }
  const jwks = createLocalJWKSet(await identity.jwks());
  for (let i = 0; i < 200; i++) {
    await identity.authenticate(access_token, {});
    await identity.authenticate(fresh.pop(), {});
    await jwtVerify(access_token, jwks, { issuer: auth.issuer, audience: auth.audience });
  }
  const repeat = [];
  const firstSeen = [];
  const bare = [];
  for (let round = 0; round < 10; round++) {
    repeat.push(...(await timeEach(iterations / 10, () => identity.authenticate(access_token, {}))));
    firstSeen.push(...(await timeEach(iterations / 50, () => identity.authenticate(fresh.pop(), {}))));
    bare.push(...(await timeEach(iterations / 10, () => jwtVerify(access_token, jwks, { issuer: auth.issuer, audience: auth.audience }))));
  }
  await audit.close();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
  const seen = summarise(repeat);
  const first = summarise(firstSeen);
  const b = summarise(bare);
  return {
    ironcodeAuthenticateRepeatToken: seen,
    ironcodeAuthenticateFirstSeenToken: first,
    joseVerifyOnly: b,
    ratioRepeat: seen.medianMs / b.medianMs,
    ratioFirstSeen: first.medianMs / b.medianMs,
  };
}

function startServer(dataDir) {
  const env = {
    ...process.env,
    IRONCODE_LOG_LEVEL: 'warn',
    IRONCODE_SERVER_RATE_LIMIT_PER_IP: '100000000',
    IRONCODE_SERVER_RATE_LIMIT_PER_PRINCIPAL: '100000000',
    IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP: '100000000',
  };
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) resolve({ child, url, password: /password: (\S+)/.exec(out)?.[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

async function load(pool, { path: urlPath, method = 'GET', headers = {}, body, seconds, concurrency }) {
  let done = 0;
  let failed = 0;
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        const response = await pool.request({ path: urlPath, method, headers, body });
        await response.body.dump();
        latencies.push(performance.now() - start);
        if (response.statusCode >= 400) failed++;
        done++;
      }
    }),
  );
  return { requestsPerSecond: done / seconds, failed, latency: summarise(latencies) };
}

async function overHttp(seconds) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ironcode-bench-http-'));
  const server = await startServer(dataDir);
  const pool = new Pool(server.url, { connections: 32 });
  try {
    const json = { 'content-type': 'application/json' };
    const loginBody = JSON.stringify({ username: 'admin', password: server.password });
    const tokens = JSON.parse(await (await pool.request({ path: '/auth/login', method: 'POST', headers: json, body: loginBody })).body.text());
    const keyResponse = await pool.request({
      path: '/api-keys',
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${tokens.access_token}` },
      body: JSON.stringify({ name: 'bench', roles: ['viewer'] }),
    });
    const { key } = JSON.parse(await keyResponse.body.text());
    // Warm-up, then the measured runs, baseline first.
    await load(pool, { path: '/healthz', seconds: 1, concurrency: 16 });
    const healthz = await load(pool, { path: '/healthz', seconds, concurrency: 32 });
    const bearerToken = await load(pool, { path: '/auth/me', headers: { authorization: `Bearer ${tokens.access_token}` }, seconds, concurrency: 32 });
    const apiKey = await load(pool, { path: '/auth/me', headers: { authorization: `Bearer ${key}` }, seconds, concurrency: 32 });
    const login = await load(pool, { path: '/auth/login', method: 'POST', headers: json, body: loginBody, seconds, concurrency: 8 });
    return {
      healthz,
      authMeWithAccessToken: bearerToken,
      authMeWithApiKey: apiKey,
      login,
      ratios: { accessTokenVsHealthz: bearerToken.requestsPerSecond / healthz.requestsPerSecond, apiKeyVsHealthz: apiKey.requestsPerSecond / healthz.requestsPerSecond },
    };
  } finally {
    await pool.close();
    server.child.kill('SIGINT');
    await new Promise((resolve) => server.child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchAuthCost({ iterations = 5000, seconds = 5 } = {}) {
  return { jwtVerification: await inProcess(iterations), http: await overHttp(seconds) };
}
