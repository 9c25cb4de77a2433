import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN } from '../run-cli.js';
import { createScratchDatabase, postgresUrl } from './postgres.js';

export type Dialect = 'sqlite' | 'postgres';

export interface RunningServer {
  /** http://127.0.0.1:PORT */
  url: string;
  dataDir: string;
  /** The environment the server runs with (IRONCODE_DATABASE_URL for PostgreSQL); give it to CLI runs on the same store. */
  env: NodeJS.ProcessEnv;
  admin: { username: string; password: string };
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGINT and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** stop() if still running, drop the scratch database, remove the data dir. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  dialect?: Dialect;
  /** Extra environment (IRONCODE_* config such as IRONCODE_SERVER_RATE_LIMIT_PER_IP). */
  env?: NodeJS.ProcessEnv;
  /** Reuse a data dir / database of an earlier server (then no admin password is printed). */
  reuse?: { dataDir: string; env: NodeJS.ProcessEnv };
  /** More flags for `ironcode serve` (`--root`, `--profile`). */
  args?: string[];
}

/**
 * Starts the real `ironcode serve` on a free port with a fresh data dir (and, for
 * PostgreSQL, a fresh database), and waits for its "listening" line.
 */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const dataDir = options.reuse?.dataDir ?? mkdtempSync(path.join(tmpdir(), 'ironcode-server-'));
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let storeEnv: NodeJS.ProcessEnv = options.reuse?.env ?? {};
  if (options.reuse === undefined && options.dialect === 'postgres') {
    scratch = await createScratchDatabase(postgresUrl());
    storeEnv = { IRONCODE_DATABASE_URL: scratch.url };
  }
  const env: NodeJS.ProcessEnv = { ...process.env, IRONCODE_LOG_LEVEL: 'warn', ...storeEnv, ...options.env };
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...(options.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s\nstdout:\n${stdout}\nstderr:\n${stderr}`)), 20_000);
    const check = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
  const password = /password: (\S+)/.exec(stdout)?.[1] ?? '';

  let stopped: Promise<number | null> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGINT') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    stopped ??= exited;
    return stopped;
  };
  return {
    url,
    dataDir,
    env: { ...process.env, ...storeEnv },
    admin: { username: 'admin', password },
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    stop,
    async dispose() {
      await stop();
      if (options.reuse === undefined) {
        await scratch?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** fetch against the server with JSON in and out; returns status, headers and parsed body. */
export async function call(
  server: { url: string },
  method: string,
  urlPath: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<{ status: number; headers: Headers; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.rawBody !== undefined) payload = options.rawBody;
  else if (options.body !== undefined) payload = JSON.stringify(options.body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(server.url + urlPath, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (metrics): keep the text.
  }
  return { status: response.status, headers: response.headers, body };
}

/** Logs in and returns the token pair. */
export async function login(server: { url: string }, username: string, password: string, totp?: string): Promise<{ access_token: string; refresh_token: string }> {
  const result = await call(server, 'POST', '/auth/login', { body: { username, password, ...(totp === undefined ? {} : { totp }) } });
  if (result.status !== 200) throw new Error(`login as ${username} failed: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body as { access_token: string; refresh_token: string };
}
