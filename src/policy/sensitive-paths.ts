import { z } from 'zod';
import { deny, SEVERITIES, type Decision } from './decision.js';
import { loadDataFile } from '../core/index.js';
import { globToRegExp } from './glob-match.js';
import type { PolicyHost } from './host.js';
import type { PathOp } from './paths.js';

const ops = z.array(z.enum(['read', 'write', 'list', 'delete'])).min(1);
const common = { ops, severity: z.enum(SEVERITIES), reason: z.string().min(1) };

const schema = z.strictObject({
  harmless: z.array(z.strictObject({ path: z.string().startsWith('/'), ops })),
  system: z.array(
    z.strictObject({ path: z.string().startsWith('/'), except: z.array(z.string().startsWith('/')).optional(), ...common }),
  ),
  files: z.array(
    z.union([
      z.strictObject({
        name: z.string().min(1),
        unless: z.array(z.string()).optional(),
        contentMarker: z.string().optional(),
        ...common,
      }),
      z.strictObject({ dir: z.string().min(1), then: z.string().optional(), deep: z.boolean().optional(), ...common }),
    ]),
  ),
});

const data = loadDataFile(new URL('./data/sensitive-paths.yaml', import.meta.url), schema);

const nameRules = data.files.flatMap((rule) =>
  'name' in rule
    ? [{ ...rule, match: globToRegExp(rule.name), exceptions: (rule.unless ?? []).map(globToRegExp) }]
    : [],
);
const dirRules = data.files.flatMap((rule) => ('dir' in rule ? [rule] : []));

/** Paths outside the roots that the listed operations may use anyway (`/dev/null`). */
export function isHarmlessPath(op: PathOp, abs: string): boolean {
  return data.harmless.some((entry) => entry.path === abs && entry.ops.includes(op));
}

/** System locations, judged on the canonical absolute path. */
export function systemLocationRule(op: PathOp, abs: string): Decision | null {
  for (const rule of data.system) {
    if (!rule.ops.includes(op)) continue;
    if (abs !== rule.path && !abs.startsWith(`${rule.path}/`)) continue;
    if (rule.except?.includes(abs)) continue;
    return deny('path.system', rule.severity, `${abs} is under ${rule.path}: ${rule.reason}`);
  }
  return null;
}

/** Secrets and persistence points, refused even inside the workspace. */
export function sensitiveFileRule(op: PathOp, abs: string, root: string, host: PolicyHost): Decision | null {
  const relative = abs === root ? [] : abs.slice(root.length + 1).split('/');
  const lower = relative.map((c) => c.toLowerCase());
  for (let i = 0; i < lower.length; i++) {
    for (const rule of dirRules) {
      if (!rule.ops.includes(op) || lower[i] !== rule.dir) continue;
      if (rule.then !== undefined && !(rule.deep ? lower.slice(i + 1) : lower.slice(i + 1, i + 2)).includes(rule.then)) continue;
      return deny('path.sensitive', rule.severity, `${abs}: ${rule.reason}`);
    }
  }
  const name = lower.at(-1);
  if (name === undefined) return null;
  for (const rule of nameRules) {
    if (!rule.ops.includes(op) || !rule.match.test(name)) continue;
    if (rule.exceptions.some((e) => e.test(name))) continue;
    if (rule.contentMarker !== undefined) {
      const head = host.head(abs, 64 * 1024);
      // A file that cannot be read cannot be shown to be harmless.
      if (head !== null && !head.includes(rule.contentMarker)) continue;
      if (head === null && host.mode(abs) === null) continue; // nothing there yet to leak
    }
    return deny('path.sensitive', rule.severity, `${abs}: ${rule.reason}`);
  }
  return null;
}

/** Whether reading this path inside the workspace root is refused as a secret (for the sandbox's masks). */
export function isSensitiveFile(abs: string, root: string, host: PolicyHost): boolean {
  return sensitiveFileRule('read', abs, root, host) !== null;
}

/**
 * Whether writing this path inside the workspace root is refused (git hooks, shell
 * start-up files, hook managers …): what the sandbox should keep read-only, since a
 * program inside it writes files the command rules never see.
 */
export function isWriteProtectedFile(abs: string, root: string, host: PolicyHost): boolean {
  return sensitiveFileRule('write', abs, root, host) !== null;
}
