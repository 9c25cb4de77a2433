import { readFileSync, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { z } from 'zod';
import { configFieldsSchema, configSchema, isBuiltinProfile } from './config.js';
import type { Config, ConfigInput, DeepPartial } from './config.js';
import { ValidationError } from './errors.js';
import { deepFreeze } from './deep-freeze.js';

export const CONFIG_FILE_NAME = 'ironcode.config.yaml';

/** `IRONCODE_*` names that are not config keys; later subsystems read them directly. */
export const RESERVED_ENV: readonly string[] = Object.freeze([
  'IRONCODE_CONFIG',
  'IRONCODE_API_KEY',
  'IRONCODE_DATABASE_URL',
  'IRONCODE_REDIS_URL',
  'IRONCODE_AUDIT_KEY',
  'IRONCODE_SECRET_KEY',
]);

export interface LoadConfigOptions {
  /** An explicit config file (the `--config` flag); it must exist. */
  configPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line flags: the highest precedence. */
  overrides?: DeepPartial<ConfigInput>;
}

type Segment = string | number;
type LeafKind = 'string' | 'number' | 'boolean' | 'string-list' | 'path-list';

interface EnvLeaf {
  name: string;
  path: readonly string[];
  kind: LeafKind;
}

/** A place settings came from; names itself for a field so errors can point at it. */
interface Source {
  describe(fieldPath: readonly Segment[]): string;
}

interface Layer {
  source: Source;
  /** Relative paths in this layer resolve against this directory. */
  baseDir: string;
  values: Record<string, unknown>;
}

interface ConfigIssue {
  source: string;
  path: string;
  message: string;
}

const ENV_PREFIX = 'IRONCODE_';
const PATH_LIST_FIELDS: ReadonlySet<string> = new Set(['roots']);

function collectEnvLeaves(schema: z.core.$ZodType, fieldPath: readonly string[]): EnvLeaf[] {
  const def = schema._zod.def as unknown as {
    type: string;
    innerType?: z.core.$ZodType;
    shape?: Record<string, z.core.$ZodType>;
    element?: z.core.$ZodType;
  };
  if (def.innerType !== undefined) return collectEnvLeaves(def.innerType, fieldPath);
  if (def.type === 'object' && def.shape !== undefined) {
    return Object.entries(def.shape).flatMap(([key, child]) => collectEnvLeaves(child, [...fieldPath, key]));
  }
  const name = ENV_PREFIX + fieldPath.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
  const kinds: Record<string, LeafKind> = { string: 'string', enum: 'string', number: 'number', boolean: 'boolean' };
  const elementType = def.element === undefined ? undefined : (def.element._zod.def as { type: string }).type;
  // Path lists split on the platform's delimiter like PATH; other lists (addresses, origins) on commas.
  const listKind = PATH_LIST_FIELDS.has(fieldPath.join('.')) ? 'path-list' : 'string-list';
  const kind = def.type === 'array' && elementType === 'string' ? listKind : kinds[def.type];
  if (kind === undefined) throw new Error(`config field ${fieldPath.join('.')} has no environment form (${def.type})`);
  return [{ name, path: fieldPath, kind }];
}

const ENV_LEAVES: readonly EnvLeaf[] = collectEnvLeaves(configFieldsSchema, []);

// `exec.limits` and a future top-level `execLimits` would share a name; fail at import, not in production.
for (const [index, leaf] of ENV_LEAVES.entries()) {
  if (ENV_LEAVES.findIndex((other) => other.name === leaf.name) !== index) {
    throw new Error(`config fields ${leaf.path.join('.')} and another share the variable ${leaf.name}`);
  }
}

/** Every `IRONCODE_*` variable that sets a config field, derived from the schema. */
export const CONFIG_ENV_NAMES: readonly string[] = Object.freeze(ENV_LEAVES.map((leaf) => leaf.name));

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const issues: ConfigIssue[] = [];

  const explicitPath = options.configPath ?? (env.IRONCODE_CONFIG || undefined);
  const file = readConfigFile(explicitPath === undefined ? path.join(cwd, CONFIG_FILE_NAME) : path.resolve(cwd, explicitPath), explicitPath !== undefined, issues);
  const defaults: Layer = {
    source: { describe: () => 'default' },
    baseDir: file?.baseDir ?? cwd,
    values: configFieldsSchema.parse({}),
  };
  const overrideSource: Source = { describe: () => 'command-line override' };
  const overrides: Layer = { source: overrideSource, baseDir: cwd, values: (options.overrides ?? {}) as Record<string, unknown> };
  if (file) checkLayerFields(file, issues);
  const envLayer = readEnvLayer(env, cwd, issues);
  checkLayerFields(envLayer, issues);
  checkLayerFields(overrides, issues);
  if (issues.length > 0) throw configError(issues);
  const layers = [defaults, ...(file ? [file] : []), envLayer, overrides];

  const provenance = new Map<string, Source>();
  const merged: Record<string, unknown> = {};
  for (const layer of layers) mergeLayer(merged, resolveLayerPaths(layer), [], layer.source, provenance);
  const describeAt = (fieldPath: readonly Segment[]): string => sourceOf(provenance, fieldPath).describe(fieldPath);

  const result = configSchema.safeParse(merged, { error: describeZodIssue });
  if (!result.success) {
    const fieldPath = (issue: z.core.$ZodIssue): Segment[] => issue.path as Segment[];
    throw configError(
      result.error.issues.map((issue) => ({ source: describeAt(fieldPath(issue)), path: formatPath(fieldPath(issue)), message: issue.message })),
    );
  }
  const config = result.data;
  const roots = checkRoots(config.roots, describeAt, issues);
  checkDataDir(config.dataDir, describeAt, issues);
  checkProfilePath(config.profile, describeAt, issues);
  if (issues.length > 0) throw configError(issues);
  return deepFreeze({ ...config, roots });
}

/** Checks one source on its own, so every type or range error names where it came from. */
function checkLayerFields(layer: Layer, issues: ConfigIssue[]): void {
  const result = configFieldsSchema.safeParse(layer.values, { error: describeZodIssue });
  if (!result.success) issues.push(...result.error.issues.flatMap((issue) => toConfigIssues(issue, layer.source)));
}

function readConfigFile(filePath: string, explicit: boolean, issues: ConfigIssue[]): Layer | undefined {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    const reason = code === 'ENOENT' ? 'config file not found' : code === 'EISDIR' ? 'is a directory, not a config file' : `cannot be read (${code ?? String(error)})`;
    issues.push({ source: filePath, path: '', message: reason });
    return undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return filePath;
    const { line, col } = lineCounter.linePos(offset);
    return `${filePath}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const firstLine =
        error.code === 'MULTIPLE_DOCS'
          ? 'a config file holds a single YAML document'
          : (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      issues.push({ source: at(error.pos[0]), path: '', message: `invalid YAML: ${firstLine}` });
    }
    return undefined;
  }
  let values: unknown;
  try {
    values = doc.toJS() ?? {};
  } catch (error) {
    // toJS refuses alias bombs and similar; the file is then unusable as a whole.
    issues.push({ source: filePath, path: '', message: `invalid YAML: ${(error as Error).message}` });
    return undefined;
  }
  if (typeof values !== 'object' || Array.isArray(values)) {
    issues.push({ source: at(doc.contents?.range?.[0]), path: '', message: `the top level must be a mapping of settings, got ${describeInput(values)}` });
    return undefined;
  }
  return {
    source: { describe: (fieldPath) => at(locateInDocument(doc, fieldPath)) },
    baseDir: path.dirname(filePath),
    values: values as Record<string, unknown>,
  };
}

/** The offset of the deepest node on `fieldPath` that exists: a key for mappings, an item for lists. */
function locateInDocument(doc: Document, fieldPath: readonly Segment[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0];
  for (const segment of fieldPath) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) break;
      offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      offset = (item as { range?: [number] }).range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function readEnvLayer(env: NodeJS.ProcessEnv, cwd: string, issues: ConfigIssue[]): Layer {
  const values: Record<string, unknown> = {};
  const names = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || RESERVED_ENV.includes(name)) continue;
    const leaf = ENV_LEAVES.find((candidate) => candidate.name === name);
    if (leaf === undefined) {
      const guess = closest(name, [...CONFIG_ENV_NAMES, ...RESERVED_ENV]);
      issues.push({ source: name, path: name, message: `unknown variable${guess ? ` (did you mean ${guess}?)` : ''}` });
      continue;
    }
    const fieldPath = leaf.path.join('.');
    const coerced = coerceEnvValue(leaf.kind, raw);
    if ('error' in coerced) {
      issues.push({ source: name, path: fieldPath, message: coerced.error });
      continue;
    }
    setAt(values, leaf.path, coerced.value);
    names.set(fieldPath, name);
  }
  const describe = (fieldPath: readonly Segment[]): string => {
    for (let length = fieldPath.length; length > 0; length -= 1) {
      const name = names.get(fieldPath.slice(0, length).join('.'));
      if (name !== undefined) return name;
    }
    return 'environment';
  };
  return { source: { describe }, baseDir: cwd, values };
}

function coerceEnvValue(kind: LeafKind, raw: string): { value: unknown } | { error: string } {
  if (raw === '') return { error: 'is set but empty; unset it to use the file or default value' };
  switch (kind) {
    case 'string':
      return { value: raw };
    case 'number':
      return /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw) ? { value: Number(raw) } : { error: `expected a number, got "${raw}"` };
    case 'boolean':
      if (raw === 'true' || raw === '1') return { value: true };
      if (raw === 'false' || raw === '0') return { value: false };
      return { error: `expected true, false, 1 or 0, got "${raw}"` };
    case 'path-list':
      // Empty entries (a trailing delimiter) would silently mean the current directory.
      return { value: raw.split(path.delimiter).filter((entry) => entry !== '') };
    case 'string-list':
      return { value: raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') };
  }
}

function setAt(target: Record<string, unknown>, fieldPath: readonly string[], value: unknown): void {
  let node = target;
  for (const key of fieldPath.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[fieldPath[fieldPath.length - 1]!] = value;
}

function resolveLayerPaths(layer: Layer): Record<string, unknown> {
  const { values, baseDir } = layer;
  const resolved: Record<string, unknown> = { ...values };
  if (Array.isArray(values.roots)) resolved.roots = values.roots.map((root: string) => path.resolve(baseDir, root));
  if (typeof values.dataDir === 'string') resolved.dataDir = path.resolve(baseDir, values.dataDir);
  if (typeof values.profile === 'string' && !isBuiltinProfile(values.profile)) {
    resolved.profile = path.resolve(baseDir, values.profile);
  }
  return resolved;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge where lists replace; records which source set each leaf. */
function mergeLayer(
  target: Record<string, unknown>,
  values: Record<string, unknown>,
  prefix: readonly string[],
  source: Source,
  provenance: Map<string, Source>,
): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const fieldPath = [...prefix, key];
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) {
      mergeLayer(existing, value, fieldPath, source, provenance);
    } else {
      target[key] = isPlainObject(value) ? structuredClone(value) : value;
      provenance.set(fieldPath.join('.'), source);
    }
  }
}

function sourceOf(provenance: Map<string, Source>, fieldPath: readonly Segment[]): Source {
  for (let length = fieldPath.length; length > 0; length -= 1) {
    const source = provenance.get(fieldPath.slice(0, length).join('.'));
    if (source !== undefined) return source;
  }
  return { describe: () => 'configuration' };
}

function exposedSystemPaths(): Map<string, string> {
  const entries: [string, string][] = [
    ['/', 'would expose the whole machine'],
    [path.dirname(homedir()), "would expose every user's home directory"],
    ['/etc', 'would expose the system configuration'],
    ['/proc', 'would expose every process on the machine'],
    ['/sys', 'would expose the kernel and its devices'],
    ['/dev', 'would expose the raw devices'],
    ['/boot', 'would expose the kernel and boot loader'],
    ['/root', "would expose the root user's home directory"],
  ];
  // On some systems these are symlinks (macOS /etc → /private/etc); roots are compared canonically.
  const withCanonical = entries.flatMap(([dir, reason]) => [[dir, reason], [realpathOrUndefined(dir) ?? dir, reason]] as const);
  const exposed = new Map<string, string>();
  // The first reason wins: when home is /root, its parent is / and "the whole machine" says more.
  for (const [dir, reason] of withCanonical) if (!exposed.has(dir)) exposed.set(dir, reason);
  return exposed;
}

function realpathOrUndefined(target: string): string | undefined {
  try {
    return realpathSync(target);
  } catch {
    return undefined;
  }
}

function statOrUndefined(target: string): Stats | undefined {
  try {
    return statSync(target);
  } catch {
    return undefined;
  }
}

/** Returns the roots as canonical paths, which is what the path policy compares against. */
function checkRoots(
  roots: readonly string[],
  describeAt: (fieldPath: readonly Segment[]) => string,
  issues: ConfigIssue[],
): string[] {
  const exposed = exposedSystemPaths();
  const seen = new Map<string, number>();
  return roots.map((root, index) => {
    const fieldPath = ['roots', index];
    const report = (message: string): void => {
      issues.push({ source: describeAt(fieldPath), path: formatPath(fieldPath), message });
    };
    const stats = statOrUndefined(root);
    const canonical = stats === undefined ? root : (realpathOrUndefined(root) ?? root);
    const reason = exposed.get(root) ?? exposed.get(canonical);
    if (reason !== undefined) report(`a workspace root of ${canonical} ${reason}`);
    else if (stats === undefined) report(`${root} does not exist`);
    else if (!stats.isDirectory()) report(`${root} is not a directory`);
    const first = seen.get(canonical);
    if (first !== undefined) report(`${root} is the same directory as roots[${first}]`);
    else seen.set(canonical, index);
    return canonical;
  });
}

function checkDataDir(dataDir: string, describeAt: (fieldPath: readonly Segment[]) => string, issues: ConfigIssue[]): void {
  // It need not exist yet (the store creates it), but a file in its place would fail much later.
  const stats = statOrUndefined(dataDir);
  if (stats !== undefined && !stats.isDirectory()) {
    issues.push({ source: describeAt(['dataDir']), path: 'dataDir', message: `${dataDir} exists and is not a directory` });
  }
}

function checkProfilePath(profile: string, describeAt: (fieldPath: readonly Segment[]) => string, issues: ConfigIssue[]): void {
  if (isBuiltinProfile(profile)) return;
  const stats = statOrUndefined(profile);
  if (stats === undefined || !stats.isFile()) {
    issues.push({ source: describeAt(['profile']), path: 'profile', message: `custom profile ${profile} ${stats ? 'is not a file' : 'does not exist'}` });
  }
}

function toConfigIssues(issue: z.core.$ZodIssue, source: Source): ConfigIssue[] {
  const fieldPath = issue.path as Segment[];
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(fieldPath);
    return issue.keys.map((key) => {
      const keyPath = [...fieldPath, key];
      const guess = closest(key, known);
      const hint = guess ? `did you mean ${formatPath([...fieldPath, guess])}?` : `valid keys: ${known.join(', ')}`;
      return { source: source.describe(keyPath), path: formatPath(keyPath), message: `unknown key (${hint})` };
    });
  }
  return [{ source: source.describe(fieldPath), path: formatPath(fieldPath), message: issue.message }];
}

function knownKeysAt(fieldPath: readonly Segment[]): string[] {
  const prefix = fieldPath.join('.');
  const keys = ENV_LEAVES.filter((leaf) => prefix === '' || leaf.path.join('.').startsWith(`${prefix}.`)).map(
    (leaf) => leaf.path[fieldPath.length]!,
  );
  return [...new Set(keys)];
}

/** Friendlier wording than zod's defaults; messages set on the schema itself take precedence. */
function describeZodIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int') return `expected a whole number, got ${describeInput(issue.input)}`;
      return `expected ${issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`}, got ${describeInput(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      return issue.origin === 'string' ? undefined : `must be at least ${issue.minimum}, got ${describeInput(issue.input)}`;
    case 'too_big':
      return issue.origin === 'string' || issue.origin === 'array' ? undefined : `must be at most ${issue.maximum}, got ${describeInput(issue.input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.join(', ')}, got ${describeInput(issue.input)}`;
    default:
      return undefined;
  }
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (input === undefined) return 'nothing';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
  return String(input);
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 4)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function formatPath(fieldPath: readonly Segment[]): string {
  return fieldPath.reduce<string>(
    (out, segment) => (typeof segment === 'number' ? `${out}[${segment}]` : out === '' ? segment : `${out}.${segment}`),
    '',
  );
}

function configError(issues: readonly ConfigIssue[]): ValidationError {
  const lines = issues.map((issue) => `  ${issue.source}: ${issue.path === '' || issue.path === issue.source ? '' : `${issue.path}: `}${issue.message}`);
  let message = `Invalid configuration (${issues.length} issue${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
  if (issues.some((issue) => issue.path.startsWith(ENV_PREFIX))) {
    message += `\nValid ${ENV_PREFIX}* variables: ${[...CONFIG_ENV_NAMES, ...RESERVED_ENV].join(', ')}`;
  }
  return new ValidationError(message, issues);
}
