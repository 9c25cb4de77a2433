import { promises as dns } from 'node:dns';
import { closeSync, constants, openSync, readdirSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { globToRegExp } from './glob-match.js';

/**
 * The only I/O the safety kernel does, passed in by the capability that asks: path
 * and executable resolution, glob expansion and DNS. Keeping it behind this
 * interface keeps the rules pure and lets `policy check` and the executor share one
 * resolution, so what is judged is what runs.
 */
export interface PolicyHost {
  /** Canonical path of an existing file, or null when it does not exist. */
  realpath(p: string): string | null;
  /** The target of `p` when it is a symbolic link (dangling ones too), else null. */
  readlink(p: string): string | null;
  /** Canonical path of an executable found on the fixed search path, or null. */
  which(name: string): string | null;
  /** Sorted matches of an unquoted glob pattern relative to cwd (shell rules: no dotfiles unless asked). */
  glob(pattern: string, cwd: string): string[];
  /** The file's mode bits, or null when it does not exist. */
  mode(p: string): number | null;
  /** The first bytes of a file (to tell a private key from a certificate), or null. */
  head(p: string, bytes: number): string | null;
  /** All A and AAAA addresses of a host name. */
  resolve(hostname: string): Promise<string[]>;
}

/** The search path executables are found on: never the caller's PATH. */
export const SAFE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * How long a search-path lookup is trusted. The search path lies outside every
 * workspace and the rules refuse writes there, so an agent cannot change what a name
 * resolves to; the short expiry only lets a long-running server notice packages an
 * administrator installs.
 */
const SEARCH_PATH_TTL_MS = 5_000;

export function createHost(searchPath: readonly string[] = SAFE_PATH, now: () => number = Date.now): PolicyHost {
  const found = new Map<string, { path: string | null; at: number }>();
  const modes = new Map<string, { mode: number; at: number }>();
  const fresh = (at: number): boolean => now() - at < SEARCH_PATH_TTL_MS;
  return {
    realpath(p) {
      try {
        return realpathSync.native(p);
      } catch {
        return null;
      }
    },
    readlink(p) {
      try {
        return readlinkSync(p);
      } catch {
        return null;
      }
    },
    which(name) {
      const cached = found.get(name);
      if (cached !== undefined && fresh(cached.at)) return cached.path;
      let result: string | null = null;
      for (const dir of searchPath) {
        try {
          const st = statSync(path.join(dir, name));
          if (!st.isFile() || (st.mode & 0o111) === 0) continue;
          result = realpathSync.native(path.join(dir, name));
          modes.set(result, { mode: st.mode, at: now() });
          break;
        } catch {
          // not in this directory
        }
      }
      found.set(name, { path: result, at: now() });
      return result;
    },
    glob: expandGlob,
    mode(p) {
      const cached = modes.get(p);
      if (cached !== undefined && fresh(cached.at)) return cached.mode;
      try {
        return statSync(p).mode;
      } catch {
        return null;
      }
    },
    head(p, bytes) {
      let fd: number | undefined;
      try {
        fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
        const buffer = Buffer.alloc(bytes);
        const n = readSync(fd, buffer, 0, bytes, 0);
        return buffer.subarray(0, n).toString('latin1');
      } catch {
        return null;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    },
    async resolve(hostname) {
      const answers = await dns.lookup(hostname, { all: true, verbatim: true });
      return answers.map((a) => a.address);
    },
  };
}

/** Shell-style pathname expansion, one path segment at a time. */
export function expandGlob(pattern: string, cwd: string): string[] {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let bases: string[] = [absolute ? '/' : ''];
  for (const segment of absolute ? segments.slice(1) : segments) {
    const next: string[] = [];
    if (!/[*?[]/.test(segment)) {
      for (const base of bases) next.push(base === '' ? segment : path.posix.join(base, segment));
    } else {
      const matcher = globToRegExp(segment);
      for (const base of bases) {
        let entries: string[];
        try {
          entries = readdirSync(path.resolve(cwd, base || '.'));
        } catch {
          continue;
        }
        for (const entry of entries.sort()) {
          if (entry.startsWith('.') && !segment.startsWith('.')) continue;
          if (matcher.test(entry)) next.push(base === '' ? entry : path.posix.join(base, entry));
        }
      }
    }
    bases = next;
    if (bases.length === 0) break;
  }
  const existing = bases.filter((b) => b !== '' && statExists(path.resolve(cwd, b)));
  return existing;
}

function statExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
