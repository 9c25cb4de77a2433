/**
 * Vitest globalSetup: gives the test run a real PostgreSQL server and a real Redis
 * server on loopback, started here and stopped when the run ends. Test files read
 * their URLs with `postgresUrl()` / `redisUrl()` from ./postgres.ts.
 *
 * IRONCODE_TEST_DATABASE_URL (an admin URL able to CREATE DATABASE) and
 * IRONCODE_TEST_REDIS_URL use existing servers instead of starting them.
 *
 * Nothing is ever skipped: when a server cannot be found or started, setup throws
 * an error that says how to fix it, and the whole run fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, readFileSync } from 'node:fs';
import { access, chown, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    redisUrl: string;
  }
}

const RUN_DIR_PREFIX = 'ironcode-test-services-';
const STARTUP_TIMEOUT_MS = 30_000;
const FIX_HINT =
  'Run `bash .ci/run` (installs the missing Debian packages), or install them yourself ' +
  '(`apt-get install postgresql redis-server`), or point the tests at running servers with ' +
  'IRONCODE_TEST_DATABASE_URL=postgres://user@host:port/db (must be allowed to CREATE DATABASE) ' +
  'and IRONCODE_TEST_REDIS_URL=redis://host:port.';

type Teardown = () => Promise<void>;

export default async function setup(project: TestProject): Promise<Teardown> {
  const runDir = await mkdtemp(join(await usableTmpdir(), RUN_DIR_PREFIX));
  await writeFile(join(runDir, 'owner.pid'), `${process.pid}\n`);
  const reaped = reapStaleRuns(runDir);

  const [pgResult, redisResult] = await Promise.allSettled([
    provideService(process.env.IRONCODE_TEST_DATABASE_URL, checkPostgres, () => startPostgres(runDir)),
    provideService(process.env.IRONCODE_TEST_REDIS_URL, checkRedis, () => startRedis(runDir)),
  ]);
  await reaped;

  const started: Service[] = [];
  const errors: unknown[] = [];
  for (const result of [pgResult, redisResult]) {
    if (result.status === 'fulfilled') started.push(result.value);
    else errors.push(result.reason);
  }
  // When vitest exits without running the teardown (e.g. on SIGINT), still stop
  // the servers; what a hard kill leaves behind, reapStaleRuns() stops next time.
  const onExit = () => started.forEach((service) => service.kill());
  process.once('exit', onExit);
  const teardown: Teardown = async () => {
    process.off('exit', onExit);
    const outcomes = await Promise.allSettled(started.map((service) => service.stop()));
    await rm(runDir, { recursive: true, force: true, maxRetries: 3 });
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  };

  if (errors.length > 0) {
    await teardown().catch(() => undefined);
    if (errors.length === 1) throw errors[0];
    throw new AggregateError(errors, errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n\n'));
  }
  if (pgResult.status !== 'fulfilled' || redisResult.status !== 'fulfilled') throw new Error('unreachable');

  project.provide('postgresUrl', pgResult.value.url);
  project.provide('redisUrl', redisResult.value.url);
  return teardown;
}

interface Service {
  url: string;
  stop: Teardown;
  /** Synchronous last-resort stop, for process exit. */
  kill(): void;
}

/** An externally given URL (checked, never stopped) or a server we start. */
async function provideService(
  externalUrl: string | undefined,
  check: (url: string) => Promise<void>,
  start: () => Promise<Service>,
): Promise<Service> {
  if (externalUrl) {
    await check(externalUrl);
    return { url: externalUrl, stop: async () => undefined, kill: () => undefined };
  }
  return start();
}

// ---------------------------------------------------------------- PostgreSQL

async function startPostgres(runDir: string): Promise<Service> {
  const bin = await findPostgresBinaries();
  const asRoot = process.getuid?.() === 0;
  let wrap: (cmd: string, args: string[]) => [string, string[]] = (cmd, args) => [cmd, args];
  if (asRoot) {
    // PostgreSQL refuses to run as root: run it as the `postgres` system user,
    // which the Debian `postgresql` package creates.
    const runuser = await findExecutable('runuser', ['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
    const user = await lookupUser('postgres');
    if (!runuser || !user) {
      throw new Error(
        `PostgreSQL cannot run as root and ${!runuser ? 'runuser (util-linux) is missing' : 'there is no `postgres` system user'}. ${FIX_HINT}`,
      );
    }
    await chown(runDir, user.uid, user.gid);
    wrap = (cmd, args) => [runuser, ['-u', 'postgres', '--', cmd, ...args]];
  }

  const dataDir = join(runDir, 'pgdata');
  const logFile = join(runDir, 'postgres.log');
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = wrap(cmd, args);
    return runCommand(file, argv, runDir);
  };

  const initdb = await run(bin.initdb, [
    '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C',
  ]);
  if (initdb.code !== 0) {
    throw new Error(
      `PostgreSQL initdb failed (${bin.initdb}, exit ${initdb.code}${asRoot ? ', as user postgres' : ''}):\n${initdb.output}\n${FIX_HINT}`,
    );
  }

  // A port that was free a moment ago can be taken before the server binds it.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const options = `-h 127.0.0.1 -p ${port} -k '${runDir}' -c fsync=off -c max_connections=200`;
    const started = await run(bin.pg_ctl, [
      '-w', '-t', String(STARTUP_TIMEOUT_MS / 1000), '-D', dataDir, '-l', logFile, '-o', options, 'start',
    ]);
    if (started.code === 0) {
      const stop = async () => {
        const stopped = await run(bin.pg_ctl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        if (stopped.code !== 0) {
          // Last resort, so no server outlives the run.
          const pid = await postmasterPid(dataDir);
          if (pid && isAlive(pid)) signal(pid, 'SIGKILL');
        }
      };
      const kill = () => {
        const pid = postmasterPidSync(dataDir);
        if (pid) signal(pid, 'SIGQUIT'); // immediate shutdown
      };
      return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, kill };
    }
    const log = await readFile(logFile, 'utf8').catch(() => '');
    if (attempt < 3 && /already in use/i.test(log)) {
      await rm(logFile, { force: true });
      continue;
    }
    const pid = await postmasterPid(dataDir);
    if (pid && isAlive(pid)) signal(pid, 'SIGKILL');
    throw new Error(
      `PostgreSQL did not start (${bin.pg_ctl} start, exit ${started.code}):\n${started.output}\n--- ${logFile} ---\n${log}\n${FIX_HINT}`,
    );
  }
}

async function findPostgresBinaries(): Promise<{ initdb: string; pg_ctl: string }> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[]))
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const initdb = join(root, version, 'bin', 'initdb');
    const pgCtl = join(root, version, 'bin', 'pg_ctl');
    if ((await isExecutable(initdb)) && (await isExecutable(pgCtl))) return { initdb, pg_ctl: pgCtl };
  }
  const initdb = await findExecutable('initdb');
  const pgCtl = initdb && (await isExecutable(join(dirname(initdb), 'pg_ctl'))) ? join(dirname(initdb), 'pg_ctl') : await findExecutable('pg_ctl');
  if (initdb && pgCtl) return { initdb, pg_ctl: pgCtl };
  throw new Error(
    `The tests need a PostgreSQL server, but no initdb/pg_ctl was found in ${root}/*/bin or on PATH. ${FIX_HINT}`,
  );
}

async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(
      `IRONCODE_TEST_DATABASE_URL is set but PostgreSQL there does not answer: ${errorText(error)}. ` +
        'Fix the URL, or unset it so that the tests start their own server.',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  return parsePid(await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => ''));
}

function postmasterPidSync(dataDir: string): number | undefined {
  try {
    return parsePid(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** The pid on the first line of a pid file. */
function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

// --------------------------------------------------------------------- Redis

async function startRedis(runDir: string): Promise<Service> {
  const bin = await findExecutable('redis-server', ['/usr/bin', '/usr/local/bin', '/usr/sbin']);
  if (!bin) throw new Error(`The tests need Redis, but redis-server was not found on PATH or in /usr/bin. ${FIX_HINT}`);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      bin,
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', runDir, '--daemonize', 'no'],
      { cwd: runDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = captureOutput(child);
    const exited = new Promise<string>((resolve) => {
      child.once('error', (error) => resolve(`failed to spawn: ${error.message}`));
      child.once('exit', (code, sig) => resolve(`exited with ${sig ?? `code ${code}`}`));
    });
    const stop = () => stopChild(child, exited);
    if (child.pid) await writeFile(join(runDir, 'redis.pid'), `${child.pid}\n`);

    const failure = await waitForRedis(port, exited);
    if (!failure) return { url: `redis://127.0.0.1:${port}`, stop, kill: () => child.kill('SIGKILL') };
    await stop();
    if (attempt < 3 && /address already in use/i.test(output())) continue;
    throw new Error(`redis-server (${bin}) did not start on 127.0.0.1:${port}: ${failure}\n${output()}\n${FIX_HINT}`);
  }
}

/** Resolves undefined once Redis answers PING, or a reason when it never will. */
async function waitForRedis(port: number, exited: Promise<string>): Promise<string | undefined> {
  let exitReason: string | undefined;
  void exited.then((reason) => (exitReason = reason));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      if ((await redisPing('127.0.0.1', port)) === '+PONG') return undefined;
      lastError = 'unexpected PING reply';
    } catch (error) {
      lastError = errorText(error);
    }
    if (exitReason) return exitReason;
    await sleep(15);
  }
  return `no PING reply within ${STARTUP_TIMEOUT_MS} ms (${lastError})`;
}

async function checkRedis(url: string): Promise<void> {
  const parsed = new URL(url);
  try {
    const reply = await redisPing(parsed.hostname || '127.0.0.1', Number(parsed.port || 6379), parsed.password ? decodeURIComponent(parsed.password) : undefined);
    if (reply !== '+PONG') throw new Error(`PING answered ${JSON.stringify(reply)}`);
  } catch (error) {
    throw new Error(
      `IRONCODE_TEST_REDIS_URL is set but Redis there does not answer PING: ${errorText(error)}. ` +
        'Fix the URL, or unset it so that the tests start their own server.',
    );
  }
}

/** One PING over a raw socket; resolves the last reply line (e.g. "+PONG"). */
function redisPing(host: string, port: number, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const expected = password ? 2 : 1;
    let buffer = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('timed out')));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(password ? `AUTH ${password}\r\nPING\r\n` : 'PING\r\n');
    });
    socket.on('data', (data) => {
      buffer += data.toString('utf8');
      const lines = buffer.split('\r\n').slice(0, -1);
      if (lines.length >= expected) {
        socket.destroy();
        resolve(lines[expected - 1] ?? '');
      }
    });
    socket.once('close', () => reject(new Error('connection closed')));
  });
}

// ------------------------------------------------------------------- helpers

/** Stale runs: run dirs whose owning vitest process is gone (killed before teardown). */
async function reapStaleRuns(ownDir: string): Promise<void> {
  const base = dirname(ownDir);
  const entries = await readdir(base).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => name.startsWith(RUN_DIR_PREFIX) && join(base, name) !== ownDir)
      .map(async (name) => {
        const dir = join(base, name);
        const owner = parsePid(await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => ''));
        if (!owner || isAlive(owner)) return;
        const pid = await postmasterPid(join(dir, 'pgdata'));
        if (pid && (await cmdline(pid)).includes('postgres')) signal(pid, 'SIGQUIT'); // immediate shutdown
        // redis-server rewrites its command line, so its pid is kept in a file.
        const redis = parsePid(await readFile(join(dir, 'redis.pid'), 'utf8').catch(() => ''));
        if (redis && (await cmdline(redis)).includes('redis-server')) signal(redis, 'SIGKILL');
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }),
  );
}

async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temp dir that the postgres user can traverse when we are root. */
async function usableTmpdir(): Promise<string> {
  const preferred = tmpdir();
  if (process.getuid?.() !== 0) return preferred;
  for (const dir of [preferred, '/tmp']) {
    if (await traversableByOthers(dir)) return dir;
  }
  throw new Error(`Neither ${preferred} nor /tmp is traversable by the postgres user; set TMPDIR to a directory that is.`);
}

async function traversableByOthers(dir: string): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (!info || (info.mode & 0o001) === 0) return false;
    if (current === dirname(current)) return true;
  }
}

const handedOut = new Set<number>();

/** A free loopback port: bind port 0, read it, release it. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

interface CommandResult {
  code: number | null;
  stdout: string;
  /** The command line, stdout and stderr, for error messages. */
  output: string;
}

/**
 * Runs a command to completion, stdout and stderr merged. Never rejects: a spawn
 * failure is reported as code null with the error in output.
 */
function runCommand(file: string, args: string[], cwd: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: STARTUP_TIMEOUT_MS * 2, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const command = [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ');
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      const output = [`$ ${command}`, stdout.trim(), stderr.trim(), error && code === null ? error.message : '']
        .filter(Boolean)
        .join('\n');
      resolve({ code, stdout, output });
    });
  });
}

function captureOutput(child: ChildProcess): () => string {
  const limit = 64 * 1024;
  let text = '';
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    if (text.length > limit) text = text.slice(-limit);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => text.trim();
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    await Promise.race([exited, sleep(100)]);
    return;
  }
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function findExecutable(name: string, extraDirs: string[] = []): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function lookupUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const result = await runCommand('getent', ['passwd', name], '/');
  const fields = result.code === 0 ? result.stdout.trim().split(':') : undefined;
  if (!fields || fields.length < 4) return undefined;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
