// Runs every benchmark and writes bench/results/latest.json. `npm run bench`.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchAuditAppends } from './audit-appends.js';
import { benchAuthCost } from './auth-cost.js';
import { benchMcpCalls } from './mcp-calls.js';
import { benchPolicyDecisions } from './policy-decisions.js';
import { benchSpawnOverhead } from './spawn-overhead.js';

const quick = process.argv.includes('--quick');
const results = {
  when: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
  policyDecisions: await benchPolicyDecisions({ rounds: quick ? 3 : 30 }),
  spawnOverhead: await benchSpawnOverhead({ iterations: quick ? 10 : 200, cliIterations: quick ? 2 : 20 }),
  auditAppends: await benchAuditAppends({ total: quick ? 2000 : 20000, databaseUrl: process.env.BENCH_POSTGRES_URL }),
  authCost: await benchAuthCost({ iterations: quick ? 500 : 5000, seconds: quick ? 1 : 5 }),
  mcpCalls: await benchMcpCalls(quick ? { sequential: 300, inFlightCalls: 600, slowCalls: 10, httpSeconds: 2, memoryCalls: 5000, warmCalls: 2000 } : {}),
};
const file = new URL(`./results/${quick ? 'quick' : 'latest'}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
const r = results.spawnOverhead.ratios;
const fmt = (x) => x.toFixed(3);
console.log(`policy decision (all kinds): median ${fmt(results.policyDecisions.all.medianMs)} ms, p99 ${fmt(results.policyDecisions.all.p99Ms)} ms`);
console.log(`policy check / direct spawn of true: ${(r.policyCheckVsDirectSpawn * 100).toFixed(2)} % (a line never seen before: ${(r.policyCheckUniqueLineVsDirectSpawn * 100).toFixed(2)} %; right after a spawn: ${(r.policyCheckRightAfterSpawnVsDirectSpawn * 100).toFixed(2)} %)`);
console.log(`guarded unsandboxed / direct: ${fmt(r.guardedUnsandboxedVsDirect)}x, sandboxed / direct: ${fmt(r.guardedSandboxedVsDirect)}x`);
console.log(`CLI exec / node spawning true: unsandboxed ${fmt(r.cliUnsandboxedVsNodeSpawn)}x, sandboxed ${fmt(r.cliSandboxedVsNodeSpawn)}x`);
for (const [dialect, a] of Object.entries(results.auditAppends)) {
  for (const [mode, m] of Object.entries(a)) {
    console.log(`audit appends ${dialect} ${mode}: ${m.auditPerSecond.toFixed(0)}/s vs plain insert ${m.plainPerSecond.toFixed(0)}/s = ${fmt(m.ratio)}x (${m.eventsPerCommit.toFixed(1)} events per commit)`);
  }
}
const auth = results.authCost;
const jwt = auth.jwtVerification;
const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
console.log(`token check per request (with session and user lookups): first sight ${us(jwt.ironcodeAuthenticateFirstSeenToken.medianMs)} (${fmt(jwt.ratioFirstSeen)}x jose alone, ${us(jwt.joseVerifyOnly.medianMs)}), seen before ${us(jwt.ironcodeAuthenticateRepeatToken.medianMs)} (${fmt(jwt.ratioRepeat)}x)`);
const h = auth.http;
console.log(`HTTP: /healthz ${h.healthz.requestsPerSecond.toFixed(0)}/s, /auth/me with token ${h.authMeWithAccessToken.requestsPerSecond.toFixed(0)}/s (${fmt(h.ratios.accessTokenVsHealthz)}x), with API key ${h.authMeWithApiKey.requestsPerSecond.toFixed(0)}/s (${fmt(h.ratios.apiKeyVsHealthz)}x), login ${h.login.requestsPerSecond.toFixed(1)}/s`);
const mcp = results.mcpCalls;
for (const [name, m] of Object.entries(mcp.stdio)) {
  if (name === 'ratios') continue;
  console.log(`MCP stdio 4 KiB read, ${name}: ${m.sequential.callsPerSecond.toFixed(0)}/s sequential (p50 ${fmt(m.sequential.p50Ms)} ms, p99 ${fmt(m.sequential.p99Ms)} ms), ${m.inFlight16.callsPerSecond.toFixed(0)}/s with 16 in flight (p50 ${fmt(m.inFlight16.p50Ms)}, p99 ${fmt(m.inFlight16.p99Ms)})`);
}
const mr = mcp.stdio.ratios;
console.log(`MCP stdio ironcode / server-filesystem: ${fmt(mr.sequentialVsFilesystem)}x sequential, ${fmt(mr.inFlightVsFilesystem)}x in flight; / bare SDK: ${fmt(mr.sequentialVsBare)}x, ${fmt(mr.inFlightVsBare)}x; / desktop-commander: ${fmt(mr.sequentialVsDesktopCommander)}x, ${fmt(mr.inFlightVsDesktopCommander)}x`);
console.log(`MCP HTTP ironcode: ${mcp.http.sequential.callsPerSecond.toFixed(0)}/s sequential, ${mcp.http.sustained16.callsPerSecond.toFixed(0)}/s sustained with 16 in flight (p99 ${fmt(mcp.http.sustained16.p99Ms)} ms), run_command true ${mcp.http.runCommandTrue.callsPerSecond.toFixed(0)}/s`);
console.log(`ironcode mcp resident memory: ${mcp.memory.rssBeforeKiB} KiB → ${mcp.memory.rssAfterKiB} KiB over ${mcp.memory.calls} calls after ${mcp.memory.warmupCalls} to warm up (${(mcp.memory.growth * 100).toFixed(1)} %; ${(mcp.memory.growthFromCold * 100).toFixed(1)} % from ${mcp.memory.rssColdKiB} KiB after 2000 calls)`);
console.log(`written to ${file.pathname}`);
if (r.policyCheckVsDirectSpawn >= 0.05 || r.policyCheckUniqueLineVsDirectSpawn >= 0.05) {
  console.error('policy check adds 5 % or more to a plain spawn: target missed');
  process.exitCode = 1;
}
