// MCP tool calls side by side, in one run, all driven by the official SDK client:
// reading a 4 KiB file over stdio from
//   - a bare server on the same SDK that only reads the file (the baseline: bench/mcp/bare-server.js),
//   - @modelcontextprotocol/server-filesystem,
//   - @wonderwhy-er/desktop-commander (telemetry, flag fetches and its browser download switched off),
//   - ironcode mcp, with an API key, the standard profile and the audit log all on;
// sequentially and with 16 calls in flight. Then ironcode over Streamable HTTP
// (`ironcode serve`, /mcp): reads, sustained with 16 in flight, and run_command of
// `true`. Then ironcode's resident memory before and after 100 000 calls.
import { Buffer } from 'node:buffer';
import { spawn, execFileSync } from 'node:child_process';
import { clearTimeout, setTimeout } from 'node:timers';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { summarise } from './stats.js';

const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT_DIR, 'bin/ironcode.js');
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Admission limits far above what one client can send: the benchmark measures the pipeline, with its checks on. */
const UNTHROTTLED = {
  IRONCODE_TOOLS_PER_PRINCIPAL_RATE_PER_SECOND: '1000000',
  IRONCODE_TOOLS_PER_PRINCIPAL_BURST: '1000000',
  IRONCODE_TOOLS_PER_TOOL_RATE_PER_SECOND: '1000000',
  IRONCODE_TOOLS_PER_TOOL_BURST: '1000000',
  IRONCODE_SERVER_RATE_LIMIT_PER_IP: '100000000',
  IRONCODE_SERVER_RATE_LIMIT_PER_PRINCIPAL: '100000000',
};

function fixture() {
  const base = mkdtempSync(path.join(tmpdir(), 'ironcode-bench-mcp-'));
  const root = path.join(base, 'workspace');
  const dataDir = path.join(base, 'data');
  mkdirSync(root);
  // 4 KiB of text (base64 lines), the same file for every server.
  let text = '';
  for (let i = 0; text.length < 4096; i++) text += `${Buffer.from(`line ${i} `.repeat(8)).toString('base64').slice(0, 99)}\n`;
  writeFileSync(path.join(root, 'file.txt'), text.slice(0, 4096));
  const env = { ...process.env, IRONCODE_LOG_LEVEL: 'warn' };
  const out = execFileSync(process.execPath, [BIN, 'admin', 'create-api-key', '--data-dir', dataDir, '--name', 'bench', '--role', 'operator'], { env, encoding: 'utf8' });
  const key = out.trim().split('\n').at(-1);
  return { base, root, dataDir, file: path.join(root, 'file.txt'), key };
}

/** Desktop Commander writes config under $HOME and phones home unless told not to: a sandboxed home with its opt-outs. */
function desktopCommanderEnv(base, root) {
  const home = path.join(base, 'dc-home');
  const dir = path.join(home, '.claude-server-commander');
  const chrome = path.join(dir, 'puppeteer-cache/chrome/linux-0/chrome-linux64');
  mkdirSync(chrome, { recursive: true });
  writeFileSync(path.join(chrome, 'chrome'), '#!/bin/sh\nexit 1\n');
  chmodSync(path.join(chrome, 'chrome'), 0o755);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ telemetryEnabled: false, allowedDirectories: [root], pendingWelcomeOnboarding: false, welcomeOnboardingEligible: false }));
  return { HOME: home, PATH: SAFE_PATH, DESKTOP_COMMANDER_DISABLE_TELEMETRY: '1', DC_FLAG_URL: 'data:application/json,{"flags":{}}' };
}

function servers(f) {
  const modules = path.join(ROOT_DIR, 'node_modules');
  return [
    { name: 'bare SDK server', args: [path.join(ROOT_DIR, 'bench/mcp/bare-server.js')], tool: 'read_file', input: { path: f.file }, env: {} },
    { name: 'server-filesystem', args: [path.join(modules, '@modelcontextprotocol/server-filesystem/dist/index.js'), f.root], tool: 'read_text_file', input: { path: f.file }, env: {} },
    {
      name: 'desktop-commander',
      args: [path.join(modules, '@wonderwhy-er/desktop-commander/dist/index.js'), '--no-onboarding'],
      tool: 'read_file',
      input: { path: f.file },
      env: desktopCommanderEnv(f.base, f.root),
      slow: true,
    },
    { name: 'ironcode', args: [BIN, 'mcp', '--root', f.root, '--data-dir', f.dataDir], tool: 'desktop_read_file', input: { path: 'file.txt' }, env: { IRONCODE_API_KEY: f.key, ...UNTHROTTLED } },
  ];
}

async function connectStdio(server) {
  const env = {};
  for (const [k, v] of Object.entries({ ...process.env, IRONCODE_LOG_LEVEL: 'warn', ...server.env })) if (v !== undefined) env[k] = v;
  const transport = new StdioClientTransport({ command: process.execPath, args: server.args, env, stderr: 'ignore' });
  const client = new Client({ name: 'ironcode-bench', version: '1.0.0' });
  await client.connect(transport);
  return { client, pid: transport.pid };
}

async function check(client, tool, input, expected) {
  const result = await client.callTool({ name: tool, arguments: input });
  const text = result.content?.find((c) => c.type === 'text')?.text ?? '';
  if (result.isError || !text.includes(expected.slice(0, 200))) throw new Error(`${tool} did not return the file: ${text.slice(0, 300)}`);
}

/** `calls` calls, `inFlight` at a time; latency of each call and the overall rate. */
async function drive(client, tool, input, calls, inFlight) {
  const samples = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < calls) {
        next += 1;
        const t = performance.now();
        const result = await client.callTool({ name: tool, arguments: input });
        if (result.isError) throw new Error(`${tool} failed: ${JSON.stringify(result.content).slice(0, 300)}`);
        samples.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const s = summarise(samples);
  return { calls, inFlight, callsPerSecond: calls / seconds, p50Ms: s.medianMs, p99Ms: s.p99Ms };
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function startServe(f) {
  const dataDir = path.join(f.base, 'serve-data');
  const env = { ...process.env, IRONCODE_LOG_LEVEL: 'warn', ...UNTHROTTLED };
  const out = execFileSync(process.execPath, [BIN, 'admin', 'create-api-key', '--data-dir', dataDir, '--name', 'bench-http', '--role', 'operator'], { env, encoding: 'utf8' });
  const key = out.trim().split('\n').at(-1);
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--root', f.root], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout}`)), 30_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stdout}`)));
  });
  return {
    url,
    key,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGINT');
      }),
  };
}

export async function benchMcpCalls({ sequential = 2000, inFlightCalls = 5000, slowCalls = 60, httpSeconds = 10, memoryCalls = 100_000, warmCalls = 40_000 } = {}) {
  const f = fixture();
  const expected = readFileSync(f.file, 'utf8');
  const results = { stdio: {}, http: {}, memory: {} };
  try {
    for (const server of servers(f)) {
      const { client } = await connectStdio(server);
      try {
        await check(client, server.tool, server.input, expected);
        const warm = server.slow ? 5 : 300;
        await drive(client, server.tool, server.input, warm, 4);
        const seq = server.slow ? slowCalls : sequential;
        const par = server.slow ? slowCalls * 2 : inFlightCalls;
        results.stdio[server.name] = {
          sequential: await drive(client, server.tool, server.input, seq, 1),
          inFlight16: await drive(client, server.tool, server.input, par, 16),
        };
      } finally {
        await client.close();
      }
    }
    const by = results.stdio;
    results.stdio.ratios = {
      sequentialVsFilesystem: by.ironcode.sequential.callsPerSecond / by['server-filesystem'].sequential.callsPerSecond,
      inFlightVsFilesystem: by.ironcode.inFlight16.callsPerSecond / by['server-filesystem'].inFlight16.callsPerSecond,
      sequentialVsDesktopCommander: by.ironcode.sequential.callsPerSecond / by['desktop-commander'].sequential.callsPerSecond,
      inFlightVsDesktopCommander: by.ironcode.inFlight16.callsPerSecond / by['desktop-commander'].inFlight16.callsPerSecond,
      sequentialVsBare: by.ironcode.sequential.callsPerSecond / by['bare SDK server'].sequential.callsPerSecond,
      inFlightVsBare: by.ironcode.inFlight16.callsPerSecond / by['bare SDK server'].inFlight16.callsPerSecond,
    };

    const serve = await startServe(f);
    try {
      const transport = new StreamableHTTPClientTransport(new URL('/mcp', serve.url), { requestInit: { headers: { authorization: `Bearer ${serve.key}` } } });
      const client = new Client({ name: 'ironcode-bench', version: '1.0.0' });
      await client.connect(transport);
      const read = { path: 'file.txt' };
      await check(client, 'desktop_read_file', read, expected);
      await drive(client, 'desktop_read_file', read, 500, 16);
      results.http.sequential = await drive(client, 'desktop_read_file', read, sequential, 1);
      // Sustained: as many calls as fit in httpSeconds at the rate just measured with 16 in flight.
      const probe = await drive(client, 'desktop_read_file', read, 2000, 16);
      results.http.sustained16 = { ...(await drive(client, 'desktop_read_file', read, Math.round(probe.callsPerSecond * httpSeconds), 16)), seconds: httpSeconds };
      results.http.runCommandTrue = await drive(client, 'desktop_run_command', { argv: ['true'] }, 200, 1);
      await client.close();
    } finally {
      await serve.stop();
    }

    const ironcode = servers(f).find((s) => s.name === 'ironcode');
    const { client, pid } = await connectStdio(ironcode);
    try {
      // A fresh process grows its heap for its first tens of thousands of calls (V8 sizes its
      // spaces to the load) and then holds steady; growth is measured from there, and the
      // cold figure is kept beside it so neither hides the other.
      await drive(client, ironcode.tool, ironcode.input, 2000, 16);
      const cold = rssKiB(pid);
      await drive(client, ironcode.tool, ironcode.input, warmCalls, 16);
      const before = rssKiB(pid);
      await drive(client, ironcode.tool, ironcode.input, memoryCalls, 16);
      const after = rssKiB(pid);
      results.memory = { calls: memoryCalls, warmupCalls: 2000 + warmCalls, rssColdKiB: cold, rssBeforeKiB: before, rssAfterKiB: after, growth: after / before - 1, growthFromCold: after / cold - 1 };
    } finally {
      await client.close();
    }
  } finally {
    rmSync(f.base, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const results = await benchMcpCalls(quick ? { sequential: 300, inFlightCalls: 600, slowCalls: 10, httpSeconds: 2, memoryCalls: 5000, warmCalls: 2000 } : {});
  console.log(JSON.stringify(results, null, 2));
}
