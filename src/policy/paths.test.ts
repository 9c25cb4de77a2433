import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from './host.js';
import { createPolicy, type Policy } from './kernel.js';
import { canonicalPath, isInside, type PathOp } from './paths.js';
import { isSensitiveFile, isWriteProtectedFile } from './sensitive-paths.js';
import { builtinProfile } from './profiles.js';

/**
 * The path rules of issue 2 ("Paths"), one row per action: operation, path (relative
 * to the working directory, the workspace root unless a row says otherwise), the
 * expected outcome and the rule id that decides it.
 *
 * The tree, in a fresh temporary directory `{base}`:
 *   {base}/ws            the workspace root
 *   {base}/ws_evil       a sibling whose name starts with the root's
 *   {base}/outside       a directory outside the roots
 * and inside the root, symbolic links pointing in, out, through, nowhere and at themselves.
 */

type Row = readonly [op: PathOp, path: string, expect: 'allow' | 'deny', rule: string, cwd?: string];

const ALLOWED = 'path.allowed';

const ROWS: Record<string, Row[]> = {
  'containment and traversal': [
    ['read', 'package.json', 'allow', ALLOWED],
    ['read', 'src/./index.ts', 'allow', ALLOWED],
    ['read', 'src/../package.json', 'allow', ALLOWED],
    ['read', '{ws}/package.json', 'allow', ALLOWED],
    ['write', 'reports/new.md', 'allow', ALLOWED],
    ['write', 'src//new.ts', 'allow', ALLOWED],
    ['list', '.', 'allow', ALLOWED],
    ['delete', 'src', 'allow', ALLOWED],
    ['read', '../outside/secret.txt', 'deny', 'path.outside-roots'],
    ['read', '../../../../../../etc/hostname', 'deny', 'path.outside-roots'],
    ['read', 'src/../../outside/secret.txt', 'deny', 'path.outside-roots'],
    ['read', '{ws}/../outside/secret.txt', 'deny', 'path.outside-roots'],
    ['read', '/', 'deny', 'path.outside-roots'],
    ['read', '//etc//hostname', 'deny', 'path.outside-roots'],
    ['write', '..', 'deny', 'path.outside-roots'],
    ['read', 'missing/../../outside/secret.txt', 'deny', 'path.traversal'],
    ['write', 'missing/../package.json', 'deny', 'path.traversal'],
    ['delete', '.', 'deny', 'path.root-delete'],
    ['delete', 'src/..', 'deny', 'path.root-delete'],
    ['delete', '{ws}', 'deny', 'path.root-delete'],
    ['read', '', 'deny', 'path.invalid'],
    ['read', '../package.json', 'allow', ALLOWED, 'src'],
    ['read', '../../outside/secret.txt', 'deny', 'path.outside-roots', 'src'],
  ],
  'a sibling that shares the root as a prefix is outside': [
    ['read', '{base}/ws_evil/x', 'deny', 'path.outside-roots'],
    ['write', '../ws_evil/x', 'deny', 'path.outside-roots'],
    ['list', '{base}/ws_evil', 'deny', 'path.outside-roots'],
    ['read', 'to-evil/x', 'deny', 'path.outside-roots'],
  ],
  'symbolic links are resolved before the containment check': [
    ['read', 'in-link', 'allow', ALLOWED],
    ['read', 'out-link', 'deny', 'path.outside-roots'],
    ['write', 'out-link', 'deny', 'path.outside-roots'],
    ['read', 'outdir/secret.txt', 'deny', 'path.outside-roots'],
    ['write', 'outdir/new.txt', 'deny', 'path.outside-roots'],
    ['list', 'outdir', 'deny', 'path.outside-roots'],
    // `..` after a link climbs from the link's target, as the kernel does, not lexically
    ['read', 'outdir/../outside/secret.txt', 'deny', 'path.outside-roots'],
    ['read', 'outdir/../ws/package.json', 'allow', ALLOWED],
    ['read', 'deep/../../../package.json', 'allow', ALLOWED],
    ['read', 'deep/../../../../outside/secret.txt', 'deny', 'path.outside-roots'],
    ['write', 'etc/passwd', 'deny', 'path.system'],
    ['read', 'etc/hostname', 'deny', 'path.outside-roots'],
    // a dangling link: creating the file creates the link's target
    ['write', 'dangling-out', 'deny', 'path.outside-roots'],
    ['write', 'dangling-etc', 'deny', 'path.system'],
    ['write', 'dangling-chain', 'deny', 'path.outside-roots'],
    ['write', 'dangling-dir/new.txt', 'deny', 'path.outside-roots'],
    ['write', 'dangling-in', 'allow', ALLOWED],
    ['write', 'loop', 'deny', 'path.invalid'],
    ['read', 'env-alias', 'deny', 'path.sensitive'],
    ['list', 'keys', 'deny', 'path.sensitive'],
    ['write', 'hooks-link/post-merge', 'deny', 'path.sensitive'],
  ],
  'NUL bytes and percent-encoded traversal': [
    ['read', 'notes.md\0.png', 'deny', 'path.nul-byte'],
    ['read', '\0', 'deny', 'path.nul-byte'],
    ['write', '../\0x', 'deny', 'path.nul-byte'],
    ['read', '%2e%2e%2fetc%2fpasswd', 'deny', 'path.encoded-traversal'],
    ['read', '%2E%2E/etc/passwd', 'deny', 'path.encoded-traversal'],
    ['read', '..%2fetc/passwd', 'deny', 'path.encoded-traversal'],
    ['read', '..%2Fetc%2Fpasswd', 'deny', 'path.encoded-traversal'],
    ['read', '%252e%252e%252fetc', 'deny', 'path.encoded-traversal'],
    ['read', '..%5c..%5cetc', 'deny', 'path.encoded-traversal'],
    ['read', 'src/%2e%2e/%2e%2e/x', 'deny', 'path.encoded-traversal'],
    ['read', 'a%00b', 'deny', 'path.encoded-traversal'],
    // other escapes are just characters of a file name
    ['read', 'x%41y', 'allow', ALLOWED],
  ],
  'home directories are never expanded': [
    ['read', '~', 'deny', 'path.home'],
    ['read', '~/.ssh/id_rsa', 'deny', 'path.home'],
    ['read', '~root', 'deny', 'path.home'],
    ['write', '~root/.bashrc', 'deny', 'path.home'],
    ['read', '~+/x', 'deny', 'path.home'],
    ['read', 'src/~backup', 'allow', ALLOWED],
    ['read', 'a/~', 'allow', ALLOWED],
  ],
  'sensitive files inside the workspace': [
    ['read', '.env', 'deny', 'path.sensitive'],
    ['write', '.env', 'deny', 'path.sensitive'],
    ['delete', '.env', 'deny', 'path.sensitive'],
    ['read', '.ENV', 'deny', 'path.sensitive'],
    ['read', 'src/.env', 'deny', 'path.sensitive'],
    ['read', '.env.local', 'deny', 'path.sensitive'],
    ['read', '.env.production', 'deny', 'path.sensitive'],
    ['read', '.env.example', 'allow', ALLOWED],
    ['read', '.env.sample', 'allow', ALLOWED],
    ['read', '.env.template', 'allow', ALLOWED],
    ['write', '.env.example', 'allow', ALLOWED],
    ['read', 'tls/key.pem', 'deny', 'path.sensitive'],
    ['read', 'tls/bundle.pem', 'deny', 'path.sensitive'],
    ['read', 'tls/cert.pem', 'allow', ALLOWED],
    ['read', 'tls/not-yet.pem', 'allow', ALLOWED],
    ['read', 'tls/server.key', 'deny', 'path.sensitive'],
    ['write', 'tls/new.key', 'deny', 'path.sensitive'],
    ['read', 'id_rsa', 'deny', 'path.sensitive'],
    ['read', 'deploy/id_rsa_backup', 'deny', 'path.sensitive'],
    ['read', 'id_rsa.pub', 'allow', ALLOWED],
    ['read', 'deploy/id_ed25519', 'deny', 'path.sensitive'],
    ['read', 'deploy/id_ed25519.pub', 'allow', ALLOWED],
    ['read', 'id_ecdsa', 'deny', 'path.sensitive'],
    ['read', '.ssh/config', 'deny', 'path.sensitive'],
    ['list', '.ssh', 'deny', 'path.sensitive'],
    ['write', '.ssh/authorized_keys', 'deny', 'path.sensitive'],
    ['read', '.ironcode/ironcode.db', 'deny', 'path.sensitive'],
    ['write', '.ironcode/ironcode.db-wal', 'deny', 'path.sensitive'],
    ['delete', '.ironcode', 'deny', 'path.sensitive'],
    ['list', 'sub/.IRONCODE', 'deny', 'path.sensitive'],
    ['read', '.ironcode/audit.key', 'deny', 'path.sensitive'],
    ['read', '.aws/credentials', 'deny', 'path.sensitive'],
    ['read', '.netrc', 'deny', 'path.sensitive'],
    ['read', '.git-credentials', 'deny', 'path.sensitive'],
    ['read', '.npmrc', 'deny', 'path.sensitive'],
    ['read', '.kube/config', 'deny', 'path.sensitive'],
    ['read', '.docker/config.json', 'deny', 'path.sensitive'],
  ],
  'git hooks and configuration: reads allowed, writes refused': [
    ['write', '.git/hooks/pre-commit', 'deny', 'path.sensitive'],
    ['write', '.git/hooks/new-hook', 'deny', 'path.sensitive'],
    ['delete', '.git/hooks', 'deny', 'path.sensitive'],
    ['write', '.GIT/HOOKS/pre-commit', 'deny', 'path.sensitive'],
    ['write', '.git/config', 'deny', 'path.sensitive'],
    ['write', '.git/modules/lib/hooks/post-checkout', 'deny', 'path.sensitive'],
    ['write', '.git/modules/lib/config', 'deny', 'path.sensitive'],
    ['write', '.git/worktrees/w/config.worktree', 'deny', 'path.sensitive'],
    ['write', 'vendor/lib/.git/hooks/pre-commit', 'deny', 'path.sensitive'],
    ['read', '.git/hooks/pre-commit', 'allow', ALLOWED],
    ['list', '.git/hooks', 'allow', ALLOWED],
    ['read', '.git/config', 'allow', ALLOWED],
    ['write', '.git/HEAD', 'allow', ALLOWED],
    ['write', 'src/hooks/useThing.ts', 'allow', ALLOWED],
    ['write', 'config/app.yaml', 'allow', ALLOWED],
  ],
  'shell start-up files and hook managers: reads allowed, writes and deletes refused': [
    ...['.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.profile', '.zshrc', '.zshenv', '.zprofile', '.zlogin', '.zlogout',
      '.cshrc', '.tcshrc', '.login', '.kshrc', '.mkshrc', '.envrc', '.exrc', '.vimrc', '.nvimrc', '.tmux.conf', '.psqlrc', '.gitconfig',
      '.pre-commit-config.yaml', 'lefthook.yml', '.husky/pre-commit', '.husky/_/husky.sh', '.githooks/pre-push', '.config/fish/config.fish',
      '.config/fish/conf.d/x.fish', '.config/fish/functions/ls.fish', '.config/nvim/init.lua', '.config/git/config',
      '.config/systemd/user/x.service', '.config/autostart/x.desktop', 'sub/.bashrc', 'home/user/.zshrc'].flatMap(
      (p): Row[] => [['write', p, 'deny', 'path.sensitive'], ['delete', p, 'deny', 'path.sensitive']],
    ),
    ['write', '.BASHRC', 'deny', 'path.sensitive'],
    ['delete', '.husky', 'deny', 'path.sensitive'],
    ['write', '.config', 'deny', 'path.sensitive'],
    ['delete', '.config/fish', 'deny', 'path.sensitive'],
    ['read', '.bashrc', 'allow', ALLOWED],
    ['read', '.husky/pre-commit', 'allow', ALLOWED],
    ['list', '.husky', 'allow', ALLOWED],
    ['read', '.config/fish/config.fish', 'allow', ALLOWED],
    ['list', '.config/fish', 'allow', ALLOWED],
    ['write', 'bashrc', 'allow', ALLOWED],
    ['write', '.bashrc.orig', 'allow', ALLOWED],
    ['write', 'docs/profile', 'allow', ALLOWED],
    ['write', '.config/app/settings.json', 'allow', ALLOWED],
    ['write', 'src/husky.ts', 'allow', ALLOWED],
  ],
  'system locations': [
    ['read', '/proc/self/environ', 'deny', 'path.system'],
    ['read', '/proc/1/cmdline', 'deny', 'path.system'],
    ['list', '/proc', 'deny', 'path.system'],
    ['read', '/sys/kernel/hostname', 'deny', 'path.system'],
    ['write', '/sys/class/leds/x', 'deny', 'path.system'],
    ['read', '/dev/null', 'allow', ALLOWED],
    ['write', '/dev/null', 'allow', ALLOWED],
    ['delete', '/dev/null', 'deny', 'path.outside-roots'],
    ['write', '/dev/sda', 'deny', 'path.system'],
    ['read', '/dev/sda', 'deny', 'path.system'],
    ['read', '/dev/zero', 'deny', 'path.system'],
    ['read', '/dev/../dev/null', 'allow', ALLOWED],
    ['write', '/dev/null/../sda', 'deny', 'path.traversal'],
    ['write', '/etc/passwd', 'deny', 'path.system'],
    ['write', '/etc/cron.d/job', 'deny', 'path.system'],
    ['delete', '/etc/hosts', 'deny', 'path.system'],
    ['read', '/etc/hostname', 'deny', 'path.outside-roots'],
    ['read', '/etc/shadow', 'deny', 'path.system'],
    ['read', '/tmp/../etc/shadow', 'deny', 'path.system'],
    ['read', '/etc/sudoers', 'deny', 'path.system'],
    ['list', '/root', 'deny', 'path.system'],
    ['read', '/root/.bashrc', 'deny', 'path.system'],
    ['read', '/boot/vmlinuz', 'deny', 'path.system'],
    ['write', '/boot/grub/grub.cfg', 'deny', 'path.system'],
    ['write', '/run/docker.sock', 'deny', 'path.system'],
    ['read', '/run/docker.sock', 'deny', 'path.system'],
    ['write', '/var/run/docker.sock', 'deny', 'path.system'],
    ['read', '/run/containerd/containerd.sock', 'deny', 'path.system'],
    ['write', '/var/run/containerd/containerd.sock', 'deny', 'path.system'],
  ],
};

let base: string;
let workspace: string;
let policy: Policy;

beforeAll(async () => {
  base = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-paths-')));
  workspace = path.join(base, 'ws');
  const outside = path.join(base, 'outside');
  for (const dir of ['ws/src', 'ws/src/a/b', 'ws/tls', 'ws/deploy', 'ws/.ssh', 'ws/.aws', 'ws/.kube', 'ws/.docker', 'ws/.git/hooks', 'ws/.husky', 'ws/.config/fish', 'ws_evil', 'outside/a/b']) {
    mkdirSync(path.join(base, dir), { recursive: true });
  }
  const files: Record<string, string> = {
    'ws/package.json': '{}\n',
    'ws/src/index.ts': 'export {};\n',
    'ws/.env': 'SECRET=1\n',
    'ws/.env.example': 'SECRET=\n',
    'ws/.env.sample': 'SECRET=\n',
    'ws/.env.template': 'SECRET=\n',
    'ws/.env.local': 'SECRET=2\n',
    'ws/tls/cert.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    'ws/tls/key.pem': '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
    'ws/tls/bundle.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n',
    'ws/tls/server.key': 'x\n',
    'ws/id_rsa': 'x\n',
    'ws/id_rsa.pub': 'ssh-rsa AAAA\n',
    'ws/deploy/id_ed25519': 'x\n',
    'ws/deploy/id_ed25519.pub': 'ssh-ed25519 AAAA\n',
    'ws/.ssh/config': 'Host x\n',
    'ws/.aws/credentials': '[default]\n',
    'ws/.kube/config': 'apiVersion: v1\n',
    'ws/.docker/config.json': '{}\n',
    'ws/.netrc': 'machine x\n',
    'ws/.git-credentials': 'https://u:p@x\n',
    'ws/.npmrc': '//registry/:_authToken=x\n',
    'ws/.git/config': '[core]\n',
    'ws/.git/hooks/pre-commit': '#!/bin/sh\n',
    'ws/.bashrc': 'alias ll="ls -l"\n',
    'ws/.husky/pre-commit': 'npx lint-staged\n',
    'ws/.config/fish/config.fish': 'set -x A 1\n',
    'outside/secret.txt': 'secret\n',
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(base, file), text);
  const links: Record<string, string> = {
    'in-link': 'src/index.ts',
    'out-link': path.join(outside, 'secret.txt'),
    outdir: outside,
    deep: path.join(workspace, 'src/a/b'),
    etc: '/etc',
    'to-evil': path.join(base, 'ws_evil'),
    'dangling-out': path.join(outside, 'created.txt'),
    'dangling-etc': '/etc/ironcode-test-created',
    'dangling-chain': 'dangling-out',
    'dangling-dir': path.join(outside, 'missing-dir'),
    'dangling-in': 'src/created.ts',
    loop: 'loop',
    'env-alias': '.env',
    keys: '.ssh',
    'hooks-link': '.git/hooks',
  };
  for (const [link, target] of Object.entries(links)) symlinkSync(target, path.join(workspace, link));
  policy = await createPolicy({ profile: builtinProfile('standard'), roots: [workspace], host: createHost() });
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

for (const [section, rows] of Object.entries(ROWS)) {
  describe(section, () => {
    for (const [op, raw, expected, rule, cwd] of rows) {
      it(`${expected} ${op} ${JSON.stringify(raw)}${cwd ? ` from ${cwd}` : ''} (${rule})`, async () => {
        const fill = (text: string) => text.replaceAll('{ws}', workspace).replaceAll('{base}', base);
        const decision = await policy.decide({ kind: 'path', op, path: fill(raw) }, cwd === undefined ? {} : { cwd: path.join(workspace, cwd) });
        expect({ allowed: decision.allowed, rule: decision.rule }, decision.reason).toEqual({ allowed: expected === 'allow', rule });
        expect(decision.reason.length).toBeGreaterThan(5);
      });
    }
  });
}

describe('checkPath on start-up and hook files', () => {
  it.each([
    ['write', '.bashrc', false],
    ['delete', '.zshrc', false],
    ['write', '.husky/pre-commit', false],
    ['write', 'src/../.envrc', false],
    ['read', '.bashrc', true],
    ['read', '.husky/pre-commit', true],
  ] as const)('%s %s → allowed %s, on the canonical path', (op, raw, allowed) => {
    const check = policy.checkPath(op, raw);
    expect(check.decision).toMatchObject({ allowed, rule: allowed ? ALLOWED : 'path.sensitive' });
    expect(check.path).toBe(path.join(workspace, path.normalize(raw)));
  });

  it('are what the sandbox is told to keep read-only, and stay readable', () => {
    const host = createHost();
    expect(isWriteProtectedFile(path.join(workspace, '.bashrc'), workspace, host)).toBe(true);
    expect(isWriteProtectedFile(path.join(workspace, '.husky/pre-commit'), workspace, host)).toBe(true);
    expect(isWriteProtectedFile(path.join(workspace, 'src/index.ts'), workspace, host)).toBe(false);
    expect(isSensitiveFile(path.join(workspace, '.bashrc'), workspace, host)).toBe(false);
  });

  it('follows a link to the start-up file it names', () => {
    symlinkSync('.bashrc', path.join(workspace, 'rc-link'));
    expect(policy.checkPath('write', 'rc-link')).toMatchObject({ decision: { allowed: false, rule: 'path.sensitive' }, path: path.join(workspace, '.bashrc') });
  });
});

describe('canonical paths', () => {
  const ctx = () => ({ roots: [workspace], cwd: workspace, host: createHost() });

  it('follow links the way the kernel does and keep the missing rest', () => {
    expect(canonicalPath('outdir/../ws/src/new.ts', ctx())).toEqual({ ok: true, path: path.join(workspace, 'src/new.ts') });
    expect(canonicalPath('dangling-chain', ctx())).toEqual({ ok: true, path: path.join(base, 'outside/created.txt') });
  });

  it('compare with a separator-aware check', () => {
    expect(isInside(`${workspace}_evil/x`, workspace)).toBe(false);
    expect(isInside(`${workspace}/x`, workspace)).toBe(true);
    expect(isInside(workspace, workspace)).toBe(true);
    expect(isInside('/wsx', '/ws')).toBe(false);
  });
});

describe('a profile that does not change files (strict)', () => {
  let strict: Policy;
  beforeAll(async () => {
    strict = await createPolicy({ profile: builtinProfile('strict'), roots: [workspace], host: createHost() });
  });
  it.each([
    ['read', 'package.json', true, 'path.allowed'],
    ['list', '.', true, 'path.allowed'],
    ['write', 'reports/out.md', false, 'path.read-only'],
    ['delete', 'package.json', false, 'path.read-only'],
  ] as const)('%s %s → %s', async (op, p, allowed, rule) => {
    const decision = await strict.decide({ kind: 'path', op, path: p });
    expect([decision.allowed, decision.rule]).toEqual([allowed, rule]);
  });
  it('refuses a redirect that writes', async () => {
    const decision = await strict.decide({ kind: 'command', line: 'ls > listing.txt' });
    expect([decision.allowed, decision.rule]).toEqual([false, 'path.read-only']);
  });
});

describe('protected directories (ironcode’s data directory under any name)', () => {
  let guarded: Policy;
  beforeAll(async () => {
    mkdirSync(path.join(workspace, 'state'), { recursive: true });
    writeFileSync(path.join(workspace, 'state', 'ironcode.db'), 'x');
    guarded = await createPolicy({ profile: builtinProfile('permissive'), roots: [workspace], protectedDirs: [path.join(workspace, 'state'), path.join(workspace, 'not-yet')], host: createHost() });
  });

  it.each([
    ['read', 'state/ironcode.db'],
    ['list', 'state'],
    ['delete', 'state'],
    ['write', 'state/audit.key'],
    ['write', 'not-yet/ironcode.db'],
    ['read', './src/../state/ironcode.db'],
  ] as const)('refuses %s %s', async (op, target) => {
    const decision = await guarded.decide({ kind: 'path', op, path: target });
    expect(decision).toMatchObject({ allowed: false, rule: 'path.sensitive', severity: 'critical' });
  });

  it('refuses commands that touch it, and leaves the rest of the workspace alone', async () => {
    expect((await guarded.judgeCommand({ line: 'cat state/ironcode.db' })).decision).toMatchObject({ allowed: false, rule: 'path.sensitive' });
    expect((await guarded.judgeCommand({ line: 'rm -rf state' })).decision).toMatchObject({ allowed: false, rule: 'path.sensitive' });
    expect((await guarded.decide({ kind: 'path', op: 'read', path: 'statements.txt' })).allowed).toBe(true);
    expect((await guarded.decide({ kind: 'path', op: 'write', path: 'stateful/x' })).allowed).toBe(true);
  });
});
