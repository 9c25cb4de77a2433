import { randomInt } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isIronError } from '../core/index.js';
import type { ExecLimits } from '../policy/index.js';
import type { Script, Stage } from '../policy/index.js';
import { commandEnvironment } from './command-environment.js';
import { runScript, type RunOptions } from './run-script.js';
import { bwrapArgs, probeSandbox, resolveSandbox, sandboxPlan, SANDBOX_HOME, type SandboxPlan } from './sandbox.js';
import { processesWith } from '../../test/support/process-scan.js';

const limits: ExecLimits = { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024, maxFileBytes: 1024 * 1024, maxProcesses: 8 };

function stage(argv: string[], env: Record<string, string> = {}): Stage {
  return { argv, env, redirects: [] };
}
function pipeline(...stages: Stage[]): Script {
  return { items: [{ connector: ';', pipeline: { stages, negated: false } }] };
}

let ws: string;
let plan: SandboxPlan;
let options: RunOptions;

beforeEach(async () => {
  ws = await mkdtemp(join(tmpdir(), 'ironcode-sandbox-'));
  const made = await sandboxPlan({ mode: 'required', network: false, roots: [ws] });
  if (made === null) throw new Error('sandboxPlan returned null in required mode');
  plan = made;
  options = { cwd: ws, roots: [ws], limits, sandbox: plan };
});
afterEach(async () => {
  await rm(ws, { recursive: true, force: true });
});

describe('probeSandbox', () => {
  it('finds a working bubblewrap on this machine (a failure here means the sandbox is unusable, not skipped)', async () => {
    const probe = await probeSandbox();
    expect(probe).toMatchObject({ available: true });
    expect(probe.path).toMatch(/\/bwrap$/);
  });
});

describe('sandbox modes', () => {
  const unusable = { available: false, reason: 'bwrap is not installed' };

  it('required throws unavailable with the fix', async () => {
    const error = await resolveSandbox(unusable, { mode: 'required', network: false, roots: [] }).catch((caught: unknown) => caught);
    expect(isIronError(error) && error.kind === 'unavailable').toBe(true);
    expect(String(error)).toContain('apt-get install bubblewrap');
  });

  it('preferred falls back to no sandbox and warns loudly', async () => {
    const warnings: string[] = [];
    const result = await resolveSandbox(unusable, { mode: 'preferred', network: false, roots: [], warn: (m) => warnings.push(m) });
    expect(result).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^WARNING: commands run UNSANDBOXED because bwrap is not installed/);
  });

  it('off never sandboxes; preferred sandboxes when bwrap works', async () => {
    expect(await sandboxPlan({ mode: 'off', network: false, roots: [ws] })).toBeNull();
    const warnings: string[] = [];
    expect(await sandboxPlan({ mode: 'preferred', network: false, roots: [ws], warn: (m) => warnings.push(m) })).not.toBeNull();
    expect(warnings).toEqual([]);
  });

  it('rejects / as a writable root', async () => {
    await expect(sandboxPlan({ mode: 'required', network: false, roots: ['/'] })).rejects.toMatchObject({ kind: 'validation' });
  });
});

describe('bwrapArgs', () => {
  it('unshares everything, keeps the network only when allowed and applies masks last', async () => {
    const args = bwrapArgs(plan, ['/usr/bin/true'], ws, { PATH: '/usr/bin' });
    expect(args.slice(0, 1)).toEqual(['--unshare-all']);
    expect(args).not.toContain('--share-net');
    expect(args).toEqual(expect.arrayContaining(['--die-with-parent', '--new-session', '--clearenv', '--cap-drop', 'ALL']));
    expect(args.join(' ')).toContain(`--bind ${ws} ${ws}`);
    expect(args.join(' ')).toContain('--setenv PATH /usr/bin -- /usr/bin/true');
    expect(args.join(' ')).not.toMatch(/\/etc\/(shadow|gshadow|sudoers|ssh)\b/);
    if (plan.masks.length > 0) expect(args.lastIndexOf('--tmpfs')).toBeGreaterThan(args.indexOf('--bind'));
    const networked = await sandboxPlan({ mode: 'required', network: true, roots: [ws] });
    expect(bwrapArgs(networked as SandboxPlan, ['/usr/bin/true'], ws, {})).toContain('--share-net');
  });
});

describe('runScript in the sandbox', () => {
  it('runs as an unprivileged user with HOME in a private tmpfs and a cleared environment', async () => {
    const id = await runScript(pipeline(stage(['/usr/bin/id', '-u'])), options);
    expect(id.stdout).toBe('65534\n');
    const env = await runScript(pipeline(stage(['/usr/bin/env'], { EXTRA: '1' })), options);
    expect(env.stdout).toContain(`HOME=${SANDBOX_HOME}\n`);
    expect(env.stdout).toContain('EXTRA=1\n');
    expect(env.stdout.trim().split('\n').map((line) => line.split('=')[0]).sort()).toEqual(
      expect.arrayContaining(['EXTRA', 'HOME', 'LANG', 'PATH', 'TERM']),
    );
    const home = await runScript(pipeline(stage(['/usr/bin/ls', '-A', SANDBOX_HOME])), options);
    expect(home).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('cannot read /etc/shadow, /etc/gshadow or TLS private keys', async () => {
    for (const secret of ['/etc/shadow', '/etc/gshadow', '/etc/ssh']) {
      const result = await runScript(pipeline(stage(['/usr/bin/cat', secret])), options);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('No such file or directory');
    }
    const keys = await runScript(pipeline(stage(['/usr/bin/ls', '-A', '/etc/ssl/private'])), options);
    expect(keys.stdout).toBe('');
  });

  it('still sees what programs need from /etc', async () => {
    const passwd = await runScript(pipeline(stage(['/usr/bin/whoami'])), options);
    expect(passwd).toMatchObject({ exitCode: 0, stdout: 'nobody\n' });
    const alternatives = await runScript(pipeline(stage(['/usr/bin/awk', 'BEGIN { print "awk ok" }'])), options);
    expect(alternatives.stdout).toBe('awk ok\n');
  });

  it('has no /root and no /home', async () => {
    for (const dir of ['/root', '/home']) {
      const result = await runScript(pipeline(stage(['/usr/bin/ls', dir])), options);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('No such file or directory');
    }
  });

  it('writes to the workspace as the outer user', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/touch', 'made-inside.txt'])), options);
    expect(result.exitCode).toBe(0);
    const info = await stat(join(ws, 'made-inside.txt'));
    expect(info.uid).toBe(process.getuid?.());
    expect(info.gid).toBe(process.getgid?.());
  });

  it('binds the roots read-only for a profile that does not change files', async () => {
    const readOnly = await sandboxPlan({ mode: 'required', network: false, roots: [ws], rootsReadOnly: true });
    await writeFile(join(ws, 'kept.txt'), 'kept\n');
    const write = await runScript(pipeline(stage(['/usr/bin/touch', 'made-inside.txt'])), { ...options, sandbox: readOnly });
    expect(write.exitCode).not.toBe(0);
    await expect(stat(join(ws, 'made-inside.txt'))).rejects.toThrow();
    const read = await runScript(pipeline(stage(['/usr/bin/cat', 'kept.txt'])), { ...options, sandbox: readOnly });
    expect(read.stdout).toBe('kept\n');
  });

  it('cannot write to /usr, /etc or /; /tmp is private to the run and shared by its stages', async () => {
    for (const path of ['/usr/ironcode-sandbox-test', '/etc/ironcode-sandbox-test', '/ironcode-sandbox-test']) {
      const result = await runScript(pipeline(stage(['/usr/bin/touch', path])), options);
      expect(result.exitCode).not.toBe(0);
      await expect(stat(path)).rejects.toThrow();
    }
    const hostFile = join(tmpdir(), `ironcode-host-${randomInt(1e9)}`);
    await writeFile(hostFile, 'host');
    const inside = join('/tmp', `ironcode-inside-${randomInt(1e9)}`);
    const result = await runScript(
      { items: [
        { connector: ';', pipeline: { stages: [stage(['/usr/bin/touch', inside])], negated: false } },
        { connector: '&&', pipeline: { stages: [stage(['/usr/bin/ls', '-A', '/tmp'])], negated: false } },
        { connector: ';', pipeline: { stages: [stage(['/usr/bin/cat', hostFile])], negated: false } },
      ] },
      options,
    );
    await rm(hostFile);
    expect(result.stdout).toContain(inside.slice('/tmp/'.length));
    expect(result.stderr).toContain('No such file or directory');
    await expect(stat(inside)).rejects.toThrow();
    const nextRun = await runScript(pipeline(stage(['/usr/bin/ls', inside])), options);
    expect(nextRun.exitCode).not.toBe(0);
  });

  it("removes the run's private /tmp afterwards", async () => {
    const scratch = await commandEnvironment(undefined, plan);
    expect(scratch.env.HOME).toBe(SANDBOX_HOME);
    expect((await stat(join(scratch.sandboxTmp ?? '', 'home'))).isDirectory()).toBe(true);
    await scratch.release();
    await expect(stat(scratch.sandboxTmp ?? '')).rejects.toThrow();
  });

  it('hides executables outside the sandbox view with 127', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'ironcode-outside-'));
    await writeFile(join(elsewhere, 'tool'), '#!/bin/sh\necho ran\n');
    await chmod(join(elsewhere, 'tool'), 0o755);
    const result = await runScript(pipeline(stage([join(elsewhere, 'tool')])), options);
    await rm(elsewhere, { recursive: true });
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toContain('inside the sandbox');
  });

  it('runs pipelines and redirects across the sandbox boundary', async () => {
    const result = await runScript(
      { items: [{ connector: ';', pipeline: { negated: false, stages: [
        { argv: ['/usr/bin/echo', 'piped'], env: {}, redirects: [] },
        { argv: ['/usr/bin/tr', 'a-z', 'A-Z'], env: {}, redirects: [{ kind: 'file', fd: 1, mode: 'write', path: join(ws, 'out.txt') }] },
      ] } }] },
      options,
    );
    expect(result.exitCode).toBe(0);
    expect(await readFile(join(ws, 'out.txt'), 'utf8')).toBe('PIPED\n');
  });

  it('applies the file-size limit inside the sandbox', async () => {
    const result = await runScript(pipeline(stage(['/usr/bin/dd', 'if=/dev/zero', 'of=big.bin', 'bs=1k', 'count=64'])), {
      ...options,
      limits: { ...limits, maxFileBytes: 4096 },
    });
    expect(result.exitCode).not.toBe(0);
    expect((await stat(join(ws, 'big.bin'))).size).toBe(4096);
  });

  it('kills everything inside on timeout, even a process that left the group with setsid', async () => {
    const marker = `3600.${randomInt(100_000, 999_999)}`;
    await writeFile(join(ws, 'forks.sh'), `/usr/bin/setsid /usr/bin/sleep ${marker} &\n/usr/bin/sleep ${marker} &\n/usr/bin/sleep ${marker}\n`);
    const result = await runScript(pipeline(stage(['/bin/sh', 'forks.sh'])), { ...options, limits: { ...limits, timeoutMs: 500 } });
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(3000);
    expect(await processesWith(marker)).toEqual([]);
  });
});

describe('sandbox network', () => {
  let server: Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      socket.end('hello from outside\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const connectScript = [
    'import socket, sys',
    's = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)',
    'print(s.recv(100).decode().strip())',
  ].join('\n');

  it('cannot reach a server on the host loopback without network', async () => {
    await writeFile(join(ws, 'connect.py'), connectScript);
    const before = connections;
    const result = await runScript(pipeline(stage(['/usr/bin/python3', 'connect.py', String(port)])), options);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/ConnectionRefusedError|Network is unreachable|OSError/);
    expect(connections).toBe(before);
  });

  it('reaches it when the profile allows network', async () => {
    await writeFile(join(ws, 'connect.py'), connectScript);
    const networked = await sandboxPlan({ mode: 'required', network: true, roots: [ws] });
    const result = await runScript(pipeline(stage(['/usr/bin/python3', 'connect.py', String(port)])), { ...options, sandbox: networked });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hello from outside\n' });
  });

  it('keeps /tmp outside roots private even when a root lives under /tmp', async () => {
    const nested = join(ws, 'nested');
    await mkdir(nested);
    const result = await runScript(pipeline(stage(['/usr/bin/ls', '-A', ws])), { ...options, cwd: nested });
    expect(result.stdout).toContain('nested');
  });
});
