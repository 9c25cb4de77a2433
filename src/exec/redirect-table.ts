import { resolve } from 'node:path';
import type { Redirect } from '../policy/index.js';

/** Where one file descriptor of a stage points before anything is opened. */
export type FdSource<T> =
  | { kind: 'inherited'; endpoint: T }
  | { kind: 'file'; path: string; mode: 'read' | 'write' | 'append' }
  | { kind: 'text'; text: string };

export type RedirectTable<T> = { ok: true; fds: Map<number, FdSource<T>> } | { ok: false; message: string };

/** Highest descriptor a redirect may name, as in POSIX shells. */
export const MAX_REDIRECT_FD = 9;

/**
 * Applies a stage's redirects in order, as a shell does, so `>f 2>&1` and `2>&1 >f`
 * differ. Sources are objects: a `dup` copies the reference, so `&>f` or `>f 2>&1`
 * later opens `f` once and both descriptors share one offset.
 */
export function redirectTable<T>(
  defaults: ReadonlyMap<number, T>,
  redirects: readonly Redirect[],
  cwd: string,
): RedirectTable<T> {
  const fds = new Map<number, FdSource<T>>();
  for (const [fd, endpoint] of defaults) fds.set(fd, { kind: 'inherited', endpoint });
  for (const redirect of redirects) {
    if (redirect.kind === 'file') {
      const source: FdSource<T> = { kind: 'file', path: resolve(cwd, redirect.path), mode: redirect.mode };
      if (redirect.bothStdoutAndStderr) {
        fds.set(1, source);
        fds.set(2, source);
      } else {
        fds.set(redirect.fd, source);
      }
    } else if (redirect.kind === 'dup') {
      const target = fds.get(redirect.target);
      if (target === undefined) return { ok: false, message: `${redirect.target}: bad file descriptor` };
      fds.set(redirect.fd, target);
    } else {
      fds.set(redirect.fd, { kind: 'text', text: redirect.text });
    }
  }
  return { ok: true, fds };
}
