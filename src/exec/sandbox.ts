/**
 * The bubblewrap sandbox (S5). Design decisions:
 * - Built from nothing up: an empty root with /usr, /bin, /lib*, /sbin, /opt bound
 *   read-only, merged-/usr symlinks recreated as symlinks, and only allowlisted /etc
 *   entries (sandbox-etc.ts says why a mask list of secrets would not be enough).
 * - /root and /home do not exist; HOME is /tmp/home, and /tmp is private: a host
 *   directory per run shared by its stages (command-environment.ts), or a tmpfs;
 *   the root itself is remounted read-only, so only /tmp and the roots take writes.
 * - Workspace roots are bound read-write at their own paths, after /tmp, so a root
 *   under /tmp still shows through the private one.
 * - --unshare-all (user, pid, ipc, uts, cgroup, net), --share-net only when the
 *   profile allows it; --die-with-parent plus the PID namespace means killing bwrap
 *   kills every process inside, setsid or not; --new-session stops TIOCSTI.
 * - uid/gid 65534 inside map to the caller's uid outside, so files written to the
 *   workspace belong to the outer user (root in CI) and no capability survives.
 * - The command's environment goes in through --clearenv/--setenv, never through
 *   bwrap's own environment: LD_PRELOAD from a stage must not load into bwrap.
 */
import { execFile } from 'node:child_process';
import { access, lstat, readdir, readlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { isAbsolute, normalize, relative } from 'node:path';
import { UnavailableError, ValidationError } from '../core/index.js';
import { createHost, isSensitiveFile, type SandboxMode } from '../policy/index.js';
import { SANDBOX_ETC_ENTRIES, SANDBOX_ETC_MASKS, SANDBOX_ETC_PREFIXES } from './sandbox-etc.js';

export type SandboxMount =
  | { kind: 'ro-bind'; path: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'tmpfs'; path: string };

export interface SandboxPlan {
  readonly bwrapPath: string;
  readonly network: boolean;
  readonly writableRoots: readonly string[];
  /** The roots are bound read-only (a profile that does not change files). */
  readonly rootsReadOnly: boolean;
  /** Paths inside the roots that stay read-only (git hooks and config run code on the host later). */
  readonly protectedPaths: readonly string[];
  /** Secrets found in the roots when the plan was made, hidden from sandboxed programs. */
  readonly secrets: readonly SandboxMount[];
  /** Read-only system view, in mount order. */
  readonly system: readonly SandboxMount[];
  /** Applied last so nothing bound later can uncover them. */
  readonly masks: readonly SandboxMount[];
  /** HOME inside the sandbox: in the private /tmp, gone with it. */
  readonly home: string;
}

export interface SandboxProbe {
  available: boolean;
  path?: string;
  reason?: string;
}

export interface SandboxPlanOptions {
  mode: SandboxMode;
  /** Whether the profile lets sandboxed processes use the network. */
  network: boolean;
  roots: readonly string[];
  /** Bind the roots read-only (default: writable). */
  rootsReadOnly?: boolean;
  /** Directories inside the roots to hide behind an empty tmpfs (ironcode's data directory). */
  hidden?: readonly string[];
  /** Told when `preferred` falls back to running unsandboxed. */
  warn?: (message: string) => void;
}

export const SANDBOX_UID = 65534;
export const SANDBOX_HOME = '/tmp/home';
const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'];
/**
 * What a sandboxed program could plant in a workspace to run code on the host later,
 * outside every sandbox: git hooks, the files git reads its configuration from, and
 * start-up files, when they exist as the sandbox starts.
 * Bound read-only over the writable root (which also stops hard links to them, as a
 * link cannot cross mounts).
 */
const PROTECTED_IN_ROOTS = [
  '.git/hooks',
  '.git/config',
  '.git/config.worktree',
  '.git/commondir',
  '.git/info',
  // Hook managers and files a shell, direnv or an editor runs on the host later: the
  // path rules refuse writing them by name, but a sandboxed script (`tar x`, `cp -r`)
  // writes without the policy seeing names.
  '.husky',
  '.githooks',
  '.envrc',
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.profile',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.config/fish',
  '.vimrc',
  '.exrc',
];
const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt'];
const INSTALL_HINT = 'install it with "apt-get install bubblewrap" and make sure user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)';

/**
 * The sandbox for a profile's `exec.sandbox` mode, or null to run unsandboxed.
 * `required` throws when bubblewrap is unusable; `preferred` warns and returns null.
 */
export async function sandboxPlan(options: SandboxPlanOptions): Promise<SandboxPlan | null> {
  if (options.mode === 'off') return null;
  return resolveSandbox(await probeSandbox(), options);
}

/** The mode decision for a given probe result; `sandboxPlan` with the probe filled in. */
export async function resolveSandbox(probe: SandboxProbe, options: SandboxPlanOptions): Promise<SandboxPlan | null> {
  if (options.mode === 'off') return null;
  if (probe.available && probe.path !== undefined) return buildPlan(probe.path, options.network, options.roots, options.rootsReadOnly ?? false, options.hidden ?? []);
  const reason = probe.reason ?? 'bubblewrap is unusable';
  if (options.mode === 'required') {
    throw new UnavailableError(`the profile requires the bubblewrap sandbox, but ${reason}; ${INSTALL_HINT}`, {
      details: { reason },
    });
  }
  options.warn?.(`WARNING: commands run UNSANDBOXED because ${reason}; ${INSTALL_HINT}`);
  return null;
}

async function buildPlan(bwrapPath: string, network: boolean, roots: readonly string[], rootsReadOnly = false, hidden: readonly string[] = []): Promise<SandboxPlan> {
  const writableRoots = roots.map((root) => {
    const normal = normalize(root);
    if (!isAbsolute(root) || normal === '/') {
      throw new ValidationError(`sandbox root "${root}" must be an absolute directory other than /`, [
        { path: 'roots', message: 'absolute, not /' },
      ]);
    }
    return normal.replace(/\/$/, '');
  });
  const system: SandboxMount[] = [];
  for (const path of SYSTEM_PATHS) {
    const mount = await mirror(path);
    if (mount !== null) system.push(mount);
  }
  for (const name of (await readdir('/etc')).sort()) {
    if (!SANDBOX_ETC_ENTRIES.includes(name) && !SANDBOX_ETC_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const mount = await mirror(`/etc/${name}`);
    if (mount !== null) system.push(mount);
  }
  const masks: SandboxMount[] = [];
  for (const path of SANDBOX_ETC_MASKS) {
    if (await exists(path)) masks.push({ kind: 'tmpfs', path });
  }
  const protectedPaths: string[] = [];
  for (const root of writableRoots) {
    for (const relative of PROTECTED_IN_ROOTS) {
      if (await exists(`${root}/${relative}`)) protectedPaths.push(`${root}/${relative}`);
    }
  }
  const secrets: SandboxMount[] = [];
  for (const root of writableRoots) secrets.push(...(await findSecrets(root)));
  for (const dir of hidden) {
    const inside = writableRoots.some((root) => dir === root || dir.startsWith(`${root}/`));
    if (inside && (await exists(dir)) && !secrets.some((mount) => mount.path === dir)) secrets.push({ kind: 'tmpfs', path: dir });
  }
  return Object.freeze({ bwrapPath, network, writableRoots, rootsReadOnly, protectedPaths, secrets, system, masks, home: SANDBOX_HOME });
}

/** A symlink stays a symlink (so /etc/localtime still names its zone); anything else is bound. */
async function mirror(path: string): Promise<SandboxMount | null> {
  const stat = await lstat(path).catch(() => null);
  if (stat === null) return null;
  if (stat.isSymbolicLink()) return { kind: 'symlink', path, target: await readlink(path) };
  return { kind: 'ro-bind', path };
}

/**
 * The bwrap arguments (after the bwrap binary) that run `argv` in `cwd` with exactly
 * `env`. `tmpDir` is a host directory to show as /tmp; without it /tmp is a tmpfs.
 */
export function bwrapArgs(plan: SandboxPlan, argv: readonly string[], cwd: string, env: Record<string, string>, tmpDir?: string): string[] {
  const args = ['--unshare-all'];
  if (plan.network) args.push('--share-net');
  args.push('--die-with-parent', '--new-session', '--cap-drop', 'ALL');
  args.push('--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID));
  for (const mount of plan.system) args.push(...mountArgs(mount));
  args.push('--proc', '/proc', '--dev', '/dev', ...(tmpDir === undefined ? ['--tmpfs', '/tmp'] : ['--bind', tmpDir, '/tmp']));
  args.push('--dir', plan.home);
  for (const root of plan.writableRoots) args.push(plan.rootsReadOnly ? '--ro-bind' : '--bind', root, root);
  for (const path of plan.protectedPaths) args.push('--ro-bind', path, path);
  for (const secret of plan.secrets) args.push(...(secret.kind === 'tmpfs' ? ['--tmpfs', secret.path] : ['--ro-bind', '/dev/null', secret.path]));
  for (const mount of plan.masks) args.push(...mountArgs(mount), '--remount-ro', mount.path);
  // The root is bwrap's own tmpfs; left writable, `touch /etc/x` would "work" unseen.
  args.push('--remount-ro', '/', '--chdir', cwd, '--clearenv');
  for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
  args.push('--', ...argv);
  return args;
}

function mountArgs(mount: SandboxMount): string[] {
  if (mount.kind === 'symlink') return ['--symlink', mount.target, mount.path];
  if (mount.kind === 'tmpfs') return ['--tmpfs', mount.path];
  return ['--ro-bind', mount.path, mount.path];
}

/** Whether `path` (already resolved through symlinks) exists inside the sandbox. */
export function visibleInSandbox(plan: SandboxPlan, path: string): boolean {
  const bound = plan.system.filter((mount) => mount.kind === 'ro-bind').map((mount) => mount.path);
  const hidden = plan.masks.map((mount) => mount.path);
  return [...bound, ...plan.writableRoots].some((dir) => within(dir, path)) && !hidden.some((dir) => within(dir, path));
}

export function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel));
}

let probed: Promise<SandboxProbe> | undefined;

/**
 * Whether bubblewrap works here, found by running it once with the same namespaces
 * and mounts real commands get: an installed bwrap without user namespaces (many
 * containers) only fails when used. The answer is cached for the process.
 */
export function probeSandbox(): Promise<SandboxProbe> {
  probed ??= runProbe();
  return probed;
}

async function runProbe(): Promise<SandboxProbe> {
  const path = await firstExisting(BWRAP_CANDIDATES);
  if (path === undefined) return { available: false, reason: 'bwrap is not installed' };
  const truePath = await firstExisting(['/usr/bin/true', '/bin/true']);
  if (truePath === undefined) return { available: false, path, reason: 'no /usr/bin/true to probe bwrap with' };
  const plan = await buildPlan(path, false, []);
  const args = bwrapArgs(plan, [truePath], '/', { PATH: '/usr/bin:/bin' });
  return new Promise((resolve) => {
    execFile(path, args, { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } }, (error, _stdout, stderr) => {
      if (error === null) resolve({ available: true, path });
      else resolve({ available: false, path, reason: `bwrap failed: ${stderr.trim() || error.message}` });
    });
  });
}

/**
 * The path rules refuse secrets (.env, keys, .ssh …) by name, but a program the
 * rules let run (`grep -r`, a script) reads whatever it can see; so the secrets a
 * bounded walk of the root finds are covered inside the sandbox: files by an empty
 * read-only file, directories by an empty tmpfs. Large trees nobody keeps secrets in
 * (node_modules, .git) are not walked, and the walk stops at a depth and a count.
 */
const SECRET_WALK = { maxDepth: 4, maxEntries: 20_000, skip: new Set(['node_modules', '.git', '.hg', '.svn', 'vendor', 'target', 'dist', 'build', '.venv', 'venv', '__pycache__']) };

async function findSecrets(root: string): Promise<SandboxMount[]> {
  const host = createHost();
  const found: SandboxMount[] = [];
  let seen = 0;
  let level = [root];
  for (let depth = 0; depth < SECRET_WALK.maxDepth && level.length > 0 && seen < SECRET_WALK.maxEntries; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (++seen > SECRET_WALK.maxEntries) break;
        const path = `${dir}/${entry.name}`;
        if (entry.isSymbolicLink()) continue; // what a link leads to is judged where it is opened
        if (!isSensitiveFile(path, root, host)) {
          if (entry.isDirectory() && !SECRET_WALK.skip.has(entry.name)) next.push(path);
          continue;
        }
        if (entry.isDirectory()) found.push({ kind: 'tmpfs', path });
        else if (entry.isFile()) found.push({ kind: 'ro-bind', path });
      }
    }
    level = next;
  }
  return found;
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    if (await exists(path, constants.X_OK)) return path;
  }
  return undefined;
}

function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}
