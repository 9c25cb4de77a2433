import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForbiddenError, NotFoundError, PolicyDeniedError, ValidationError, type IronError } from '../../core/index.js';
import { isPermission, type Principal } from '../../identity/index.js';
import { toolWorkspace, type ToolWorkspace } from '../../../test/support/tools.js';
import { createToolRegistry } from '../registry.js';
import type { AnyTool } from '../tool.js';
import { missingExecutables } from './availability.js';
import { catalogue } from './catalogue.js';
import { commandPermission, type ChainResult } from './chain-run.js';
import { listChains } from './chains.js';
import { bashgodServer } from './server.js';
import { describeTool, listChainsTool, runChainTool, runTool, searchTool, templateLine, validateTool } from './tools.js';

const CI: Principal = { kind: 'user', id: 'usr_ci', name: 'ci', roles: ['ci'], permissions: [] };

/** A catalogue command without required params whose programs this machine lacks (iostat, dig …), if any. */
const absent = catalogue().commands.find((command) => command.params.every((p) => p.required !== true) && missingExecutables(command).length > 0);

let ws: ToolWorkspace;
beforeEach(async () => {
  ws = await toolWorkspace();
});
afterEach(async () => {
  await ws.close();
});

const run = <T>(tool: AnyTool, input: unknown, principal?: Principal) => ws.run<T>(tool, input, principal === undefined ? {} : { principal });
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe('the bashgod server', () => {
  it('exports six tools with honest risks and hints, each with a short description and a usage text', () => {
    expect(bashgodServer.name).toBe('bashgod');
    expect(bashgodServer.tools.map((t) => [t.mcpName, t.risk, t.annotations.readOnly, t.annotations.openWorld])).toEqual([
      ['bashgod_search', 'read', true, false],
      ['bashgod_describe', 'read', true, false],
      ['bashgod_validate', 'read', true, false],
      ['bashgod_run', 'execute', false, true],
      ['bashgod_list_chains', 'read', true, false],
      ['bashgod_run_chain', 'execute', false, true],
    ]);
    for (const tool of bashgodServer.tools) {
      expect(tool.description.length, tool.mcpName).toBeLessThanOrEqual(200);
      expect(tool.usage?.length ?? 0, tool.mcpName).toBeGreaterThan(tool.description.length);
    }
    // Builds a registry: names are unique and every output schema is a JSON object.
    expect(createToolRegistry([bashgodServer]).list()).toHaveLength(6);
  });

  it('gives every catalogue command a valid permission that no bashgod tool has', () => {
    const toolPermissions = new Set(bashgodServer.tools.map((t) => t.permission.split(':')[0]));
    for (const command of catalogue().commands) {
      const permission = commandPermission(command.id, command.risk);
      expect(isPermission(permission), permission).toBe(true);
      // A command named like a tool would share its permission: granting one would grant the other.
      expect(toolPermissions.has(permission.split(':')[0]), permission).toBe(false);
    }
  });
});

describe('bashgod_search', () => {
  it('finds commands by what they do, with their availability here', async () => {
    const out = await run<{ hits: { id: string; risk: string; category: string; available: boolean; missing: string[] }[] }>(searchTool, { query: 'disk usage by directory', limit: 5 });
    expect(out.hits[0]).toMatchObject({ id: 'disk-usage-by-directory', category: 'system', risk: 'read', available: true, missing: [] });
    expect(out.hits.length).toBeLessThanOrEqual(5);
  });

  it('filters by category and risk', async () => {
    const out = await run<{ hits: { id: string; risk: string }[] }>(searchTool, { query: 'lock', risk: 'write', category: 'coordination' });
    expect(out.hits.map((h) => h.id)).toEqual(['lock-is-free']);
  });

  // This machine (and CI's) lacks two dozen of the catalogue's programs (sysstat, dig, helm …); a machine with all of them fails here rather than skipping.
  it('lists the programs a command needs and this machine lacks', async () => {
    expect(absent, 'no catalogue command with missing programs on this machine').toBeDefined();
    const out = await run<{ hits: { id: string; available: boolean; missing: string[] }[] }>(searchTool, { query: absent!.id.replaceAll('-', ' '), limit: 200 });
    expect(out.hits.find((h) => h.id === absent!.id)).toMatchObject({ available: false, missing: missingExecutables(absent!) });
  });

  it('renders hits as text and keeps only ids for the audit log', async () => {
    const out = await run<never>(searchTool, { query: 'sha256' });
    expect(searchTool.text!(out)).toContain('file-sha256 [security, read]');
    expect(searchTool.auditResult!(out)).toEqual({ hits: expect.arrayContaining(['file-sha256']) });
  });
});

describe('bashgod_describe', () => {
  it('shows params with their types, limits and defaults, the template and the rendered example', async () => {
    const out = await run<Record<string, unknown>>(describeTool, { id: 'disk-usage-by-directory' });
    expect(out).toMatchObject({
      id: 'disk-usage-by-directory',
      risk: 'read',
      permission: 'tool.bashgod.disk-usage-by-directory:read',
      profile: 'strict',
      platforms: expect.arrayContaining(['linux']),
      requires: ['du'],
      missing: [],
      template: 'du -x -h -d {depth} {path}',
      example: { path: '.', depth: 1 },
      exampleArgv: ['du', '-x', '-h', '-d', '1', '.'],
    });
    expect(out.params).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'depth', type: 'integer', min: 0, max: 6, default: 1, required: false }),
        expect.objectContaining({ name: 'path', type: 'path' }),
      ]),
    );
    expect(describeTool.text!(out as never)).toContain('example: {"path":".","depth":1} → du -x -h -d 1 .');
  });

  it('shows optional elements of a template readably', async () => {
    const out = await run<{ template: string; params: { name: string; values?: string[] }[] }>(describeTool, { id: 'sort-lines' });
    expect(out.template).toBe('sort [if order=numeric: -n] [if order=human: -h] [if reverse: -r] [if field: -k {field}]');
    expect(out.params.find((p) => p.name === 'order')?.values).toEqual(expect.arrayContaining(['numeric', 'human']));
  });

  it('writes joins, value forms and escaped literals as they render', () => {
    expect(templateLine(['find', { join: ['+', '{mb}', 'M'] }, { param: 'since', as: 'ago' }, { literal: '{x}' }, 'a b'])).toBe("find +{mb}M {since:ago} '{x}' 'a b'");
  });

  it('suggests near ids for an unknown one', async () => {
    const error = await failure(run(describeTool, { id: 'disk-usage' }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toMatch(/no BashGod command "disk-usage"; did you mean .*disk-usage-by-directory/);
  });
});

describe('bashgod_validate', () => {
  it('renders and judges without running: an allowed call', async () => {
    const out = await run<Record<string, unknown>>(validateTool, { id: 'disk-usage-by-directory', params: { path: 'src', depth: 2 } });
    expect(out).toEqual({ id: 'disk-usage-by-directory', argv: ['du', '-x', '-h', '-d', '2', 'src'], allowed: true, missing: [], risk: 'read', permission: 'tool.bashgod.disk-usage-by-directory:read' });
  });

  it('keeps a hostile value one argv element, judged as the path it is', async () => {
    const out = await run<{ argv: string[]; allowed: boolean }>(validateTool, { id: 'file-sha256', params: { file: '; rm -rf /' } });
    expect(out.argv).toEqual(['sha256sum', '; rm -rf /']);
    // A file named "; rm -rf " inside the workspace: odd, harmless, and allowed as such.
    expect(out.allowed).toBe(true);
  });

  it('returns a policy refusal as a normal result with the rule and reason', async () => {
    const out = await run<Record<string, unknown>>(validateTool, { id: 'file-sha256', params: { file: '../../../../etc/shadow' } });
    expect(out).toMatchObject({ argv: ['sha256sum', '../../../../etc/shadow'], allowed: false, rule: 'path.system', severity: 'critical' });
    expect(out.reason).toContain('/etc/shadow');
    expect(validateTool.text!(out as never)).toContain('refused by the policy: path.system (critical)');
  });

  it('refuses a command the profile does not allow, naming the rule', async () => {
    const out = await run<Record<string, unknown>>(validateTool, { id: 'lock-is-free', params: { lockfile: 'deploy.lock' } });
    expect(out).toMatchObject({ allowed: false, rule: 'command.not-allowlisted', risk: 'write', permission: 'tool.bashgod.lock-is-free:write' });
  });

  it('refuses a value that would read as an option as a ValidationError naming the param', async () => {
    const error = await failure(run(validateTool, { id: 'file-sha256', params: { file: '-rf' } }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: 'params.file', message: expect.stringContaining('starts with "-"') }]);
    expect((error as ValidationError).details.rules).toEqual([{ param: 'file', rule: 'param.leading-dash' }]);
  });

  it('refuses unknown and missing params by name', async () => {
    const error = await failure(run(validateTool, { id: 'file-sha256', params: { path: 'a.txt' } }));
    expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual(['params.file', 'params.path']);
  });
});

describe('bashgod_run', () => {
  it('runs the rendered argv and returns what it printed', async () => {
    writeFileSync(path.join(ws.root, 'data.txt'), 'some data\n');
    const out = await run<Record<string, unknown>>(runTool, { id: 'file-sha256', params: { file: 'data.txt' } });
    const hash = createHash('sha256').update('some data\n').digest('hex');
    expect(out).toMatchObject({ id: 'file-sha256', argv: ['sha256sum', 'data.txt'], exitCode: 0, signal: null, stdout: `${hash}  data.txt\n`, stderr: '', truncated: false, timedOut: false });
    expect(runTool.text!(out as never)).toContain(`$ sha256sum data.txt\n(file-sha256: exit code 0`);
    const audit = runTool.auditResult!(out as never);
    expect(audit).toEqual({ id: 'file-sha256', argv: ['sha256sum', 'data.txt'], exitCode: 0, signal: null, timedOut: false, durationMs: expect.any(Number) });
    expect(JSON.stringify(audit)).not.toContain(hash);
  });

  it('runs in a working directory inside the workspace', async () => {
    mkdirSync(path.join(ws.root, 'sub'));
    writeFileSync(path.join(ws.root, 'sub', 'one.txt'), '1');
    const out = await run<{ stdout: string }>(runTool, { id: 'find-by-name', params: { path: '.', name: '*.txt', kind: 'f' }, cwd: 'sub' });
    expect(out.stdout).toBe('./one.txt\n');
  });

  it('fails with the rule when the policy refuses', async () => {
    const error = await failure(run(runTool, { id: 'file-sha256', params: { file: '/etc/shadow' } }));
    expect(error).toBeInstanceOf(PolicyDeniedError);
    expect((error as PolicyDeniedError).rule).toBe('path.system');
  });

  it('refuses a command whose programs are not installed, before running anything', async () => {
    expect(absent, 'no catalogue command with missing programs on this machine').toBeDefined();
    const missing = missingExecutables(absent!);
    const error = await failure(run(runTool, { id: absent!.id }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(`${absent!.id}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed on this machine; install ${missing.length === 1 ? 'it' : 'them'} or choose another command`);
    expect((error as IronError).details).toEqual({ id: absent!.id, missing });
  });

  it("needs the command's own risk: the ci role may execute tools but not run a write command", async () => {
    const error = await failure(run(runTool, { id: 'lock-is-free', params: { lockfile: 'deploy.lock' } }, CI));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect((error as ForbiddenError).permission).toBe('tool.bashgod.lock-is-free:write');
    expect((error as Error).message).toContain('tool.bashgod.lock-is-free:write');
    // …while a read command runs for it.
    writeFileSync(path.join(ws.root, 'x'), 'x');
    expect(await run(runTool, { id: 'file-sha256', params: { file: 'x' } }, CI)).toMatchObject({ exitCode: 0 });
  });

  it('runs a write command for an operator where the profile allows it', async () => {
    const permissive = await toolWorkspace({ profile: 'permissive' });
    try {
      const out = await permissive.run<{ exitCode: number; argv: string[] }>(runTool, { id: 'lock-is-free', params: { lockfile: 'deploy.lock' } });
      expect(out).toMatchObject({ exitCode: 0, argv: ['flock', '--nonblock', '--conflict-exit-code', '75', 'deploy.lock', 'true'] });
      expect(existsSync(path.join(permissive.root, 'deploy.lock'))).toBe(true);
    } finally {
      await permissive.close();
    }
  });
});

describe('bashgod_list_chains', () => {
  it('lists every chain with its mode, params, steps, highest risk and missing programs', async () => {
    const out = await run<{ chains: { id: string; mode: string; risk: string; missing: string[]; params: { name: string }[]; steps: { id: string; command: string }[] }[] }>(listChainsTool, {});
    expect(out.chains.map((c) => c.id)).toEqual(listChains().map((c) => c.id));
    expect(out.chains.find((c) => c.id === 'disk-pressure')).toMatchObject({
      mode: 'pipeline',
      risk: 'read',
      missing: [],
      params: [{ name: 'path' }, { name: 'depth' }, { name: 'top' }],
      steps: [
        { id: 'usage', command: 'disk-usage-by-directory' },
        { id: 'rank', command: 'sort-lines' },
        { id: 'top', command: 'first-lines' },
      ],
    });
    expect(out.chains.find((c) => c.id === 'release-readiness')).toMatchObject({ mode: 'sequential', stopOnFailure: true, risk: 'execute' });
    expect(listChainsTool.text!(out as never)).toContain('disk-pressure [pipeline, read]');
  });
});

describe('bashgod_run_chain', () => {
  it('runs the disk-pressure pipeline: du feeds sort feeds head', async () => {
    for (const [dir, kib] of [['small', 4], ['large', 256], ['medium', 64]] as const) {
      mkdirSync(path.join(ws.root, dir));
      writeFileSync(path.join(ws.root, dir, 'blob'), Buffer.alloc(kib * 1024, 1));
    }
    const out = await run<ChainResult>(runChainTool, { id: 'disk-pressure', params: { depth: 1, top: 3 } });
    expect(out).toMatchObject({ chain: 'disk-pressure', mode: 'pipeline', status: 'ok' });
    expect(out.steps.map((s) => [s.id, s.status, s.argv])).toEqual([
      ['usage', 'ok', ['du', '-x', '-h', '-d', '1', '.']],
      ['rank', 'ok', ['sort', '-h', '-r']],
      ['top', 'ok', ['head', '-n', '3']],
    ]);
    // The total (.) first, then the largest directories: sorted by size and cut to three lines.
    const names = out.steps[2]!.stdout!.trimEnd().split('\n').map((line) => line.split('\t')[1]);
    expect(names).toEqual(['.', './large', './medium']);
    const text = runChainTool.text!(out as never);
    expect(text).toContain('chain disk-pressure (pipeline): ok');
    expect(text).toContain('--- top\n');
    const audit = JSON.stringify(runChainTool.auditResult!(out as never));
    expect(audit).toContain('"argv":["head","-n","3"]');
    expect(audit).not.toContain('./large');
  });

  it('runs the certificate-expiry conditional chain down both branches', async () => {
    const permissive = await toolWorkspace({ profile: 'permissive' });
    try {
      for (const [name, days] of [['long.crt', 365], ['short.crt', 1]] as const) {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-days', String(days), '-keyout', path.join(permissive.root, `${name}.key`), '-out', path.join(permissive.root, name)], { stdio: 'ignore' });
      }
      const valid = await permissive.run<ChainResult>(runChainTool, { id: 'certificate-expiry', params: { file: 'long.crt', within: '30d' } });
      expect(valid.steps.map((s) => [s.id, s.status])).toEqual([
        ['valid', 'ok'],
        ['details', 'skipped'],
      ]);
      expect(valid.status).toBe('ok');
      const expiring = await permissive.run<ChainResult>(runChainTool, { id: 'certificate-expiry', params: { file: 'short.crt', within: '30d' } });
      expect(expiring.steps.map((s) => [s.id, s.status])).toEqual([
        ['valid', 'failed'],
        ['details', 'ok'],
      ]);
      expect(expiring.steps[1]!.stdout).toMatch(/subject=CN ?= ?short\.crt/);
      expect(expiring.status).toBe('ok');
    } finally {
      await permissive.close();
    }
  });

  it('reports progress per step', async () => {
    const progress: (string | undefined)[] = [];
    await ws.run(runChainTool, { id: 'disk-pressure', params: { depth: 1, top: 1 } }, { onProgress: (_done, _total, message) => progress.push(message) });
    expect(progress).toEqual(['step usage: ok', 'step rank: ok', 'step top: ok']);
  });

  it('refuses stopOnFailure for a chain that is not sequential, naming the field', async () => {
    const error = await failure(run(runChainTool, { id: 'disk-pressure', stopOnFailure: true }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('stopOnFailure');
  });

  it('refuses invalid chain params by name, and unknown chains with the known ids', async () => {
    const invalid = await failure(run(runChainTool, { id: 'disk-pressure', params: { top: 0 } }));
    expect((invalid as ValidationError).issues[0]?.path).toBe('params.top');
    const unknown = await failure(run(runChainTool, { id: 'no-such-chain' }));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as Error).message).toContain('disk-pressure');
  });
});
