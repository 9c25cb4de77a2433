import path from 'node:path';
import { allow, deny, type Decision } from './decision.js';
import type { PolicyHost } from './host.js';
import { isHarmlessPath, sensitiveFileRule, systemLocationRule } from './sensitive-paths.js';

export type PathOp = 'read' | 'write' | 'list' | 'delete';

export interface PathContext {
  /** Canonical workspace roots. */
  roots: readonly string[];
  /** Canonical directory relative paths are resolved against. */
  cwd: string;
  host: PolicyHost;
  /** False in a profile that does not change files: every write and delete is refused. */
  writable?: boolean;
  /** Canonical directories no operation may touch (ironcode's own data directory). */
  protectedDirs?: readonly string[];
}

export type Canonical = { ok: true; path: string } | { ok: false; decision: Decision };

/**
 * Canonicalises a path the way the kernel will resolve it when the file is opened:
 * the longest existing prefix is resolved with realpath (so `link/..` follows the
 * link, as the kernel does, instead of being removed lexically), and the missing
 * rest is appended. A dangling link where the missing rest begins is followed,
 * because creating the file creates the link's target. A `..` inside the missing
 * rest is refused: it cannot be resolved without the directory existing.
 */
export function canonicalPath(raw: string, ctx: PathContext): Canonical {
  const early = syntaxRule(raw);
  if (early) return { ok: false, decision: early };
  return resolveMissing(raw, raw.startsWith('/') ? raw : `${ctx.cwd}/${raw}`, ctx, 0);
}

/** As many links as Linux follows before ELOOP. */
const MAX_LINKS = 40;

function resolveMissing(raw: string, joined: string, ctx: PathContext, links: number): Canonical {
  const components = joined.split('/');
  for (let keep = components.length; keep >= 1; keep--) {
    const prefix = components.slice(0, keep).join('/') || '/';
    const real = ctx.host.realpath(prefix);
    if (real === null) continue;
    const rest = components.slice(keep).filter((c) => c !== '' && c !== '.');
    // The first missing component may be a dangling link: creating the file follows it.
    const link = rest[0] === undefined || rest[0] === '..' ? null : ctx.host.readlink(path.posix.join(real, rest[0]));
    if (link !== null) {
      if (links >= MAX_LINKS) return { ok: false, decision: deny('path.invalid', 'medium', `${JSON.stringify(raw)} has too many levels of symbolic links`) };
      const target = link.startsWith('/') ? link : `${real}/${link}`;
      return resolveMissing(raw, [target, ...rest.slice(1)].join('/'), ctx, links + 1);
    }
    if (rest.includes('..')) {
      return {
        ok: false,
        decision: deny('path.traversal', 'high', `${JSON.stringify(raw)} climbs out of a directory that does not exist`),
      };
    }
    return { ok: true, path: rest.length === 0 ? real : path.posix.join(real, ...rest) };
  }
  return { ok: false, decision: deny('path.invalid', 'medium', `${JSON.stringify(raw)} cannot be resolved`) };
}

/** Refusals that need no file system: NUL, percent-encoding, `~`. */
function syntaxRule(raw: string): Decision | null {
  if (raw === '') return deny('path.invalid', 'low', 'the path is empty');
  if (raw.includes('\0')) return deny('path.nul-byte', 'high', 'the path contains a NUL byte');
  if (/%(2e|2f|5c|00|25)/i.test(raw)) {
    return deny('path.encoded-traversal', 'high', `${JSON.stringify(raw)} contains percent-encoded path characters; paths are taken literally`);
  }
  if (raw.startsWith('~')) {
    return deny('path.home', 'high', `${JSON.stringify(raw)} refers to a home directory, which is outside the workspace (~ is not expanded)`);
  }
  return null;
}

export function isInside(candidate: string, root: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** The whole path rule chain for one operation on one path. */
export function decidePath(op: PathOp, raw: string, ctx: PathContext): Decision {
  const canonical = canonicalPath(raw, ctx);
  if (!canonical.ok) return canonical.decision;
  return decideCanonicalPath(op, canonical.path, ctx, raw);
}

export function decideCanonicalPath(op: PathOp, abs: string, ctx: PathContext, shown: string = abs): Decision {
  const system = systemLocationRule(op, abs);
  if (system) return system;
  const guarded = ctx.protectedDirs?.find((dir) => isInside(abs, dir));
  if (guarded !== undefined) {
    return deny('path.sensitive', 'critical', `${abs}: inside ironcode's data directory ${guarded} (audit log, credentials, keys)`);
  }
  const root = ctx.roots.find((r) => isInside(abs, r));
  if (!root && isHarmlessPath(op, abs)) return allow('path.allowed', `${op} ${abs} is allowed outside the workspace (harmless)`);
  if (!root) {
    return deny('path.outside-roots', 'high', `${JSON.stringify(shown)} resolves to ${abs}, outside the workspace roots (${ctx.roots.join(', ')})`);
  }
  if (ctx.writable === false && (op === 'write' || op === 'delete')) {
    return deny('path.read-only', 'medium', `${op} ${abs}: this profile does not change files in the workspace`);
  }
  if (op === 'delete' && abs === root) {
    return deny('path.root-delete', 'high', `${abs} is a workspace root and cannot be deleted`);
  }
  const sensitive = sensitiveFileRule(op, abs, root, ctx.host);
  if (sensitive) return sensitive;
  return allow('path.allowed', `${op} ${abs} is inside the workspace`);
}
