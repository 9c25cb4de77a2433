import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../core/index.js';
import { BUILTIN_PROFILES, builtinProfile, createHost, createPolicy, type BuiltinProfileName, type Policy, type PolicyHost } from '../../policy/index.js';
import { CATEGORIES, CLOSED_TYPES, commandSchema, VALUE_FORMS, type CommandSpec, type TemplateElement } from './catalogue-schema.js';
import { buildCatalogue, getCommand, listCommands, searchCommands } from './catalogue.js';
import { listChains, renderChain } from './chains.js';
import { formatValue, renderCommand } from './render.js';
import { nodeOf } from './template.js';

/**
 * The catalogue as a whole: every entry's example is rendered and judged by the
 * real safety kernel under the profile the entry declares (and refused under every
 * stricter one, so the declaration is the least permissive that works).
 */

const commands = listCommands();

/** Files and directories the examples name, so paths resolve as they would in a project. */
const WORKSPACE_FILES: Record<string, string> = {
  'logs/app.log': '2024-01-01T00:00:00Z INFO started\n',
  'package.json': '{ "name": "demo", "scripts": { "build": "tsc" } }\n',
  'tsconfig.json': '{}\n',
  'README.md': '# demo\n',
  'SHA256SUMS': '',
  'certs/server.crt': '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
  'certs/ca.crt': '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
  'keys/deploy.pub': 'ssh-ed25519 AAAA demo\n',
  'data/app.db': '',
  'dist/release.tar.gz': '',
  'dist/release.tar.gz.asc': '',
  'src/index.ts': 'export {};\n',
  'tests/test_demo.py': 'def test_demo():\n    pass\n',
};
const WORKSPACE_DIRS = ['run', 'db'];

/**
 * The real host, except that an executable the catalogue requires counts as installed
 * (a plain 0755 file in /usr/bin) when this machine lacks it, and host names resolve
 * to one public address: the verdicts are the same on every machine and offline.
 * Installed programs are judged as what they really are (a setuid ping would show).
 */
function installedHost(required: ReadonlySet<string>): PolicyHost {
  const real = createHost();
  const stand = (name: string) => `/usr/bin/${name}`;
  return {
    ...real,
    which: (name) => real.which(name) ?? (required.has(name) ? stand(name) : null),
    mode: (p) => real.mode(p) ?? ([...required].some((name) => stand(name) === p) ? 0o100755 : null),
    resolve: async () => ['93.184.215.14'],
  };
}

let root: string;
const policies = new Map<BuiltinProfileName, Policy>();

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'ironcode-bashgod-'));
  for (const dir of WORKSPACE_DIRS) mkdirSync(path.join(root, dir), { recursive: true });
  for (const [file, text] of Object.entries(WORKSPACE_FILES)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  const host = installedHost(new Set(commands.flatMap((c) => c.requires)));
  for (const name of BUILTIN_PROFILES) policies.set(name, await createPolicy({ profile: builtinProfile(name), roots: [root], host }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function judge(profile: BuiltinProfileName, argv: readonly string[]) {
  return (await policies.get(profile)!.judgeCommand({ argv }, { cwd: root })).decision;
}

function literalTexts(argv: readonly TemplateElement[]): Set<string> {
  const texts = new Set<string>();
  for (const element of argv) {
    const node = nodeOf(element);
    if (node.kind === 'literal') texts.add(node.text);
    if (node.kind === 'when') for (const text of literalTexts(node.argv)) texts.add(text);
  }
  return texts;
}

describe('the built-in catalogue', () => {
  it('holds at least 150 commands, at least 12 in every category', () => {
    expect(commands.length).toBeGreaterThanOrEqual(150);
    for (const category of CATEGORIES) expect(commands.filter((c) => c.category === category).length, category).toBeGreaterThanOrEqual(12);
  });

  it('has no two commands with the same template or the same rendered example', () => {
    const templates = commands.map((c) => JSON.stringify(c.argv));
    expect(new Set(templates).size).toBe(templates.length);
    const examples = commands.map((c) => JSON.stringify(renderCommand(c, c.example).argv));
    expect(new Set(examples).size).toBe(examples.length);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(commands[0])).toBe(true);
    expect(Object.isFrozen(commands[0]!.argv)).toBe(true);
  });

  it.each(commands)('$id: the example renders into whole elements', (command) => {
    const rendered = renderCommand(command, command.example);
    const literals = literalTexts(command.argv);
    const specs = new Map(command.params.map((p) => [p.name, p]));
    expect(rendered.argv.length).toBe(rendered.sources.length);
    expect(rendered.argv[0]).toBe(command.requires[0]);
    rendered.argv.forEach((element, i) => {
      expect(typeof element).toBe('string');
      expect(element).not.toContain('\0');
      const source = rendered.sources[i]!;
      if (source.kind === 'literal') {
        // Verbatim from the template: no value was pasted into it.
        expect(literals.has(element), `${element} is not a literal of the template`).toBe(true);
      } else if (source.kind === 'param') {
        const spec = specs.get(source.param)!;
        const value = rendered.params[source.param]!;
        const forms = [String(value), ...VALUE_FORMS.map((form) => formatValue(spec, value, form))];
        expect(forms).toContain(element);
      } else {
        for (const name of source.params) expect(CLOSED_TYPES.has(specs.get(name)!.type), `${name} in a join`).toBe(true);
      }
    });
  });

  it.each(commands)('$id: the policy allows the example under its declared profile and no stricter one', async (command) => {
    const { argv } = renderCommand(command, command.example);
    const declared = BUILTIN_PROFILES.indexOf(command.profile);
    for (const [index, profile] of BUILTIN_PROFILES.entries()) {
      const decision = await judge(profile, argv);
      if (index >= declared) expect(decision.allowed, `${profile}: ${decision.rule}: ${decision.reason}`).toBe(true);
      else expect(decision.allowed, `${command.id} also passes under ${profile}; declare the least permissive profile`).toBe(false);
    }
  });

  it.each(commands)('$id: is described for a reader', (command) => {
    expect(command.description).toMatch(/[.)]$/);
    expect(command.title).not.toMatch(/\.$/);
    for (const spec of command.params) expect(spec.description.length).toBeGreaterThanOrEqual(5);
  });
});

describe('hostile values against the real policy', () => {
  it('a climbing path stays one element, and the policy refuses it', async () => {
    const { argv } = renderCommand(getCommand('file-sha256'), { file: '../../etc/shadow' });
    expect(argv).toEqual(['sha256sum', '../../etc/shadow']);
    const decision = await judge('permissive', argv);
    expect(decision.allowed).toBe(false);
    expect(decision.rule).toMatch(/^path\./);
  });

  it('a pattern that looks like an option is searched for, not obeyed', async () => {
    const { argv } = renderCommand(getCommand('grep-recursive'), { pattern: '--include=/etc/passwd', path: 'src' });
    expect(argv).toEqual(['grep', '-r', '-n', '-I', '-E', '-e', '--include=/etc/passwd', '--', 'src']);
    expect((await judge('strict', argv)).allowed).toBe(true);
  });

  it('shell syntax in a path is a file name the policy judges as such', async () => {
    const { argv } = renderCommand(getCommand('log-tail'), { file: '; rm -rf / #', lines: 5 });
    expect(argv).toEqual(['tail', '-n', '5', '; rm -rf / #']);
    expect((await judge('strict', argv)).allowed).toBe(true);
  });

  it.each([
    ['ssh-effective-config', { host: '-oProxyCommand=touch x' }],
    ['tls-server-certificate', { host: 'example.com;id' }],
    ['http-timing', { url: 'http://user:pw@example.com/' }],
    ['http-timing', { url: 'file:///etc/passwd' }],
    ['docker-logs', { container: 'web', since: '-1h' }],
    ['kernel-parameter', { key: 'vm.swappiness=100' }],
    ['journal-unit-since', { unit: 'nginx.service', since: '1h; id' }],
    ['git-diff-stat', { rev: '--output=/etc/passwd' }],
    ['ping-host', { host: 'example.com', count: 100000 }],
  ])('%s refuses %j before the policy is asked', (id, params) => {
    expect(() => renderCommand(getCommand(id), params)).toThrow(/params\./);
  });
});

describe('built-in chains against the real policy', () => {
  it.each(listChains())('$id: every step of the example passes under its own profile', async (chain) => {
    const plan = renderChain(chain, chain.example);
    for (const step of plan.steps) {
      const decision = await judge(step.profile, step.argv);
      expect(decision.allowed, `${step.id}: ${decision.rule}: ${decision.reason}`).toBe(true);
    }
  });
});

describe('searching', () => {
  it('ranks the obvious command first', () => {
    expect(searchCommands('disk usage by directory')[0]?.command.id).toBe('disk-usage-by-directory');
    expect(searchCommands('failed ssh logins')[0]?.command.id).toBe('failed-ssh-logins');
    expect(searchCommands('which process uses port')[0]?.command.id).toBe('port-owner');
    expect(searchCommands('certificate expiry').slice(0, 3).map((h) => h.command.id)).toContain('certificate-dates');
  });

  it('finds a command by the executable it runs', () => {
    expect(searchCommands('pidstat').map((h) => h.command.id)).toEqual(expect.arrayContaining(['process-cpu-sample', 'process-io-sample']));
  });

  it('filters by category and risk and honours the limit', () => {
    const hits = searchCommands('status', { category: 'database', limit: 3 });
    expect(hits.length).toBeLessThanOrEqual(3);
    for (const hit of hits) expect(hit.command.category).toBe('database');
    for (const hit of searchCommands('', { risk: 'execute', limit: 200 })) expect(hit.command.risk).toBe('execute');
    expect(searchCommands('', { limit: 5 })).toHaveLength(5);
  });

  it('returns nothing for words it does not know', () => {
    expect(searchCommands('xyzzy plugh')).toEqual([]);
  });

  it('names near ids when an id is unknown', () => {
    expect(() => getCommand('disk-usage')).toThrow(NotFoundError);
    expect(() => getCommand('disk-usage')).toThrow(/did you mean .*disk-usage-by-directory/);
  });
});

describe('load checks', () => {
  function spec(overrides: Record<string, unknown>): CommandSpec {
    return commandSchema.parse({
      id: 'probe',
      category: 'system',
      title: 'Probe',
      description: 'A command made up for the load checks.',
      argv: ['tool'],
      risk: 'read',
      profile: 'strict',
      platforms: ['linux'],
      requires: ['tool'],
      ...overrides,
    });
  }

  function problems(overrides: Record<string, unknown>): string {
    try {
      buildCatalogue([{ source: 'probe.yaml', category: 'system', commands: [spec(overrides)] }]);
    } catch (error) {
      return (error as Error).message;
    }
    return '';
  }

  const n = { name: 'lines', type: 'integer', min: 1, max: 10, default: 5, description: 'how many lines' };
  const optionalPath = { name: 'path', type: 'path', description: 'a path to read' };

  it.each([
    ['a value spliced into a literal', { argv: ['tool', '--lines={lines}'], params: [n] }, /splices \{lines\} into text/],
    ['an optional value outside its when', { argv: ['tool', '{path}'], params: [optionalPath] }, /optional, so it must be inside \{ when: path/],
    ['a path in a join', { argv: ['tool', { join: ['--file=', '{path}'] }], params: [{ ...optionalPath, required: true }], example: { path: 'a' } }, /join may only hold .* \{path\} is a path/],
    ['a dash-capable pattern not after an option', { argv: ['tool', '{p}'], params: [{ name: 'p', type: 'pattern', required: true, leadingDash: true, description: 'a pattern to find' }], example: { p: 'x' } }, /must directly follow the option/],
    ['a negative-capable integer at the start of a join', { argv: ['tool', { join: ['{n}', 'M'] }], params: [{ name: 'n', type: 'integer', min: -5, max: 5, default: 1, description: 'a signed number' }] }, /cannot begin a joined element/],
    ['an unknown reference', { argv: ['tool', '{nothing}'] }, /\{nothing\} is not a declared parameter/],
    ['an unused parameter', { argv: ['tool'], params: [n] }, /lines is declared but never used/],
    ['a boolean as a value', { argv: ['tool', '{flag}'], params: [{ name: 'flag', type: 'boolean', default: true, description: 'a switch to test' }] }, /can only be a condition/],
    ['a form the type does not have', { argv: ['tool', { param: 'lines', as: 'ago' }], params: [n] }, /has no form "ago"/],
    ['a condition that can never hold', { argv: ['tool', { when: 'lines', equals: 'many', argv: ['-v'] }], params: [n] }, /can never be/],
    ['argv[0] from a parameter', { argv: ['{path}'], params: [{ ...optionalPath, default: 'x' }] }, /argv\[0\] must be a literal/],
    ['requires without argv[0]', { argv: ['other'] }, /requires must list argv\[0\]/],
    ['an invalid default', { argv: ['tool', '{path}'], params: [{ ...optionalPath, default: '-rf' }] }, /default of path is invalid/],
    ['an example that does not render', { argv: ['tool', '{path}'], params: [{ ...optionalPath, required: true }], example: {} }, /example does not render: .*params\.path: is required/],
  ])('refuses %s', (_what, overrides, message) => {
    expect(problems(overrides)).toMatch(message);
  });

  it('refuses an id used in two files, naming both', () => {
    expect(() =>
      buildCatalogue([
        { source: 'system.yaml', category: 'system', commands: [spec({})] },
        { source: 'network.yaml', category: 'network', commands: [spec({ category: 'network' })] },
      ]),
    ).toThrow(/network\.yaml: probe: the id is already used in system\.yaml/);
  });

  it('refuses a command filed under the wrong category', () => {
    expect(() => buildCatalogue([{ source: 'network.yaml', category: 'network', commands: [spec({})] }])).toThrow(/category system belongs in system\.yaml/);
  });

  it('accepts a sound command', () => {
    expect(buildCatalogue([{ source: 'probe.yaml', commands: [spec({ argv: ['tool', '-n', '{lines}'], params: [n] })] }]).byId.has('probe')).toBe(true);
  });
});
