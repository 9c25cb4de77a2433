import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const corpusFile = path.resolve(fileURLToPath(import.meta.url), '../../../shared/corpus/policy-public.jsonl');
let workspace: string;

beforeAll(() => {
  workspace = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-cli-')));
  mkdirSync(path.join(workspace, 'src'));
  writeFileSync(path.join(workspace, 'package.json'), '{}\n');
});
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('ironcode policy check', () => {
  it('answers the public corpus line by line, in order, as the corpus expects', async () => {
    const cases = readFileSync(corpusFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { expect: string; action: unknown });
    // Only actions that need no network: names like example.com would hit DNS, which CI does not have.
    const offline = cases.filter((c) => !JSON.stringify(c.action).includes('example.com'));
    const input = offline.map((c) => JSON.stringify(c.action)).join('\n') + '\n';
    const result = await runCli(['policy', 'check', '--profile', 'standard', '--root', workspace], { cwd: workspace, input });
    expect(result.code, result.stderr).toBe(0);
    const decisions = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { allowed: boolean; rule: string; severity: string; reason: string });
    expect(decisions).toHaveLength(offline.length);
    decisions.forEach((d, i) => {
      expect(Object.keys(d).sort()).toEqual(['allowed', 'reason', 'rule', 'severity']);
      expect(d.allowed, `${JSON.stringify(offline[i]!.action)} → ${d.rule}: ${d.reason}`).toBe(offline[i]!.expect === 'allow');
    });
  });

  it('gives a malformed line an error decision of its own and carries on', async () => {
    const input = ['{"kind":"path","op":"read","path":"package.json"}', 'not json', '{"kind":"command"}', '{"kind":"path","op":"chmod","path":"x"}', '{"kind":"command","line":"ls","extra":1}', '{"kind":"command","line":"ls src"}'].join('\n');
    const result = await runCli(['policy', 'check', '--root', workspace], { cwd: workspace, input });
    expect(result.code).toBe(0);
    const decisions = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { allowed: boolean; rule: string; reason: string });
    expect(decisions.map((d) => [d.allowed, d.rule])).toEqual([
      [true, 'path.allowed'],
      [false, 'input.invalid'],
      [false, 'input.invalid'],
      [false, 'input.invalid'],
      [false, 'input.invalid'],
      [true, 'command.allowed'],
    ]);
    expect(decisions[1]!.reason).toContain('line 2');
    expect(decisions[2]!.reason).toMatch(/argv|line/);
  });

  it('rejects an invalid config naming the field, before reading any input', async () => {
    const config = path.join(workspace, 'bad.yaml');
    writeFileSync(config, 'profile: standard\nexec:\n  limits:\n    timeoutMs: "soon"\n');
    const result = await runCli(['policy', 'check', '--config', config], { cwd: workspace, input: '{"kind":"url","url":"https://1.1.1.1/"}\n' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('exec.limits.timeoutMs');
    expect(result.stdout).toBe('');
  });

  it('rejects an unknown profile', async () => {
    const result = await runCli(['policy', 'check', '--profile', 'lenient', '--root', workspace], { cwd: workspace });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('profile');
  });
});

describe('ironcode policy explain', () => {
  it('shows the exact argv that would run and the rules that hit', async () => {
    const allowed = await runCli(['policy', 'explain', '--root', workspace, 'ls src | grep -c x > count.txt'], { cwd: workspace });
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/argv \["\/[^"]*\/ls","src"\]/);
    expect(allowed.stdout).toContain(`1>${workspace}/count.txt`);
    expect(allowed.stdout).toContain('Decision: ALLOWED');

    const denied = await runCli(['policy', 'explain', '--root', workspace, 'echo ok && timeout 5 env sh -c id'], { cwd: workspace });
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('command.inline-code');
    expect(denied.stdout).toContain('Decision: DENIED');
  });

  it('prints JSON with --json', async () => {
    const result = await runCli(['policy', 'explain', '--json', '--root', workspace, 'sudo id'], { cwd: workspace });
    const parsed = JSON.parse(result.stdout) as { decision: { rule: string }; hits: unknown[] };
    expect(parsed.decision.rule).toBe('command.privilege-escalation');
    expect(parsed.hits.length).toBeGreaterThan(0);
  });
});
