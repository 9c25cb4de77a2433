import { isIP } from 'node:net';
import { parseDuration, ValidationError } from '../../core/index.js';
import type { ParamSpec } from './catalogue-schema.js';

/**
 * Checks parameter values against their typed declarations. Every value ends up as
 * one whole argv element, so the checks are not about quoting (there is none) but
 * about what a program could read into an element: an option (a leading "-"), a
 * second line, a NUL that truncates it, or simply something of the wrong kind.
 */

export type ParamValue = string | number | boolean;
export type ResolvedParams = Readonly<Record<string, ParamValue>>;

/** Stable rule ids, so callers and tests branch on the rule rather than the text. */
export type ParamRule =
  | 'param.unknown'
  | 'param.missing'
  | 'param.type'
  | 'param.empty'
  | 'param.control-character'
  | 'param.too-long'
  | 'param.leading-dash'
  | 'param.range'
  | 'param.enum'
  | 'param.host'
  | 'param.url'
  | 'param.duration'
  | 'param.match';

export interface ParamIssue {
  param: string;
  rule: ParamRule;
  message: string;
}

export type ValueCheck = { ok: true; value: ParamValue } | { ok: false; rule: ParamRule; message: string };

const DEFAULT_MAX_LENGTH: Record<string, number> = { path: 4096, pattern: 256, string: 128, url: 2048, host: 253 };
const DNS_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const ZONE_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const INTEGER_TEXT = /^-?\d{1,15}$/;

/** How a value is shown in a message: quoted, escaped and cut short. */
export function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators: none belongs in one argument. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029) return true;
  }
  return false;
}

function fail(rule: ParamRule, message: string): ValueCheck {
  return { ok: false, rule, message };
}

/** The checks every text value goes through, in the order that gives the clearest message. */
function checkText(spec: ParamSpec, value: unknown): ValueCheck {
  if (typeof value !== 'string') return fail('param.type', `must be a string, not ${describeType(value)}`);
  if (value === '') return fail('param.empty', 'must not be empty');
  const max = ('maxLength' in spec ? spec.maxLength : undefined) ?? DEFAULT_MAX_LENGTH[spec.type] ?? 128;
  // Before any pattern runs over it: a huge value is refused by its length alone.
  if (value.length > max) return fail('param.too-long', `is ${value.length} characters long; at most ${max} are allowed`);
  if (value.includes('\0')) return fail('param.control-character', 'contains a NUL byte, which would cut the argument short');
  if (hasControlCharacter(value)) return fail('param.control-character', `contains a control character (newline, tab, escape …) in ${shown(value)}`);
  const dashAllowed = 'leadingDash' in spec && spec.leadingDash === true;
  if (value.startsWith('-') && !dashAllowed) return fail('param.leading-dash', `${shown(value)} starts with "-", so the program would read it as an option`);
  return { ok: true, value };
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'string' && INTEGER_TEXT.test(value)) return Number(value);
  return undefined;
}

export function isHostName(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // All-numeric names are malformed addresses (`999.1.1.1`, `1.2.3`), not names.
  if (labels.every((label) => /^\d+$/.test(label))) return false;
  return labels.every((label) => DNS_LABEL.test(label));
}

export function isAddress(value: string): boolean {
  if (isIP(value) === 0) return false;
  const zone = value.includes('%') ? value.slice(value.indexOf('%') + 1) : undefined;
  return zone === undefined || ZONE_ID.test(zone);
}

/** Checks one value against its declaration; the value returned is the normalised one (numbers as numbers). */
export function checkParamValue(spec: ParamSpec, value: unknown): ValueCheck {
  switch (spec.type) {
    case 'boolean':
      return typeof value === 'boolean' ? { ok: true, value } : fail('param.type', `must be true or false, not ${describeType(value)}`);
    case 'integer':
    case 'port': {
      const n = toInteger(value);
      if (n === undefined) return fail('param.type', `must be a whole number, not ${typeof value === 'string' ? shown(value) : describeType(value)}`);
      const [min, max] = spec.type === 'port' ? [1, 65_535] : [spec.min, spec.max];
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
        const what = spec.type === 'port' ? 'a port number' : 'a whole number';
        return fail('param.range', `${n} is out of range: must be ${what}${rangeText(min, max)}`);
      }
      return { ok: true, value: n };
    }
    case 'enum': {
      const text = checkText(spec, value);
      if (!text.ok) return text;
      return spec.values.includes(text.value as string) ? text : fail('param.enum', `${shown(value)} is not one of ${spec.values.join(', ')}`);
    }
    case 'path':
    case 'pattern':
      return checkText(spec, value);
    case 'string': {
      const text = checkText(spec, value);
      if (!text.ok || spec.match === undefined) return text;
      return new RegExp(`^(?:${spec.match})$`, 'u').test(text.value as string) ? text : fail('param.match', `${shown(value)} does not match ${spec.match}`);
    }
    case 'host':
      return checkHost(spec, value);
    case 'duration':
      return checkDuration(spec, value);
    case 'url':
      return checkUrlValue(spec, value);
  }
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

function checkHost(spec: Extract<ParamSpec, { type: 'host' }>, value: unknown): ValueCheck {
  const text = checkText(spec, value);
  if (!text.ok) return text;
  const host = text.value as string;
  const address = isAddress(host);
  const kind = spec.kind ?? 'any';
  if (kind === 'address' && !address) return fail('param.host', `${shown(host)} is not an IPv4 or IPv6 address`);
  if (kind === 'name' && !isHostName(host)) return fail('param.host', `${shown(host)} is not a DNS name`);
  if (!address && !isHostName(host)) return fail('param.host', `${shown(host)} is neither a DNS name nor an IP address`);
  return text;
}

function checkDuration(spec: Extract<ParamSpec, { type: 'duration' }>, value: unknown): ValueCheck {
  const text = checkText(spec, value);
  if (!text.ok) return text;
  let seconds: number;
  try {
    seconds = parseDuration(text.value as string);
  } catch {
    return fail('param.duration', `${shown(value)} is not a duration such as 90s, 15m, 12h, 7d or 2w`);
  }
  const min = spec.min === undefined ? undefined : parseDuration(spec.min);
  const max = spec.max === undefined ? undefined : parseDuration(spec.max);
  if ((min !== undefined && seconds < min) || (max !== undefined && seconds > max)) {
    return fail('param.range', `${shown(value)} is out of range: must be${spec.min === undefined ? '' : ` at least ${spec.min}`}${spec.min !== undefined && spec.max !== undefined ? ' and' : ''}${spec.max === undefined ? '' : ` at most ${spec.max}`}`);
  }
  return text;
}

function checkUrlValue(spec: Extract<ParamSpec, { type: 'url' }>, value: unknown): ValueCheck {
  const text = checkText(spec, value);
  if (!text.ok) return text;
  const raw = text.value as string;
  // curl, wget and the URL standard disagree about these; the policy refuses them too.
  if (/[\s\\]/.test(raw)) return fail('param.url', `${shown(raw)} contains whitespace or a backslash`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('param.url', `${shown(raw)} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('param.url', `${shown(raw)} is not an http or https URL`);
  if (url.username !== '' || url.password !== '' || /^[a-z]+:\/\/[^/?#]*@/i.test(raw)) return fail('param.url', `${shown(raw)} carries user information (user:password@), which is refused`);
  if (url.hostname === '') return fail('param.url', `${shown(raw)} has no host`);
  return text;
}

/**
 * Validates a params object for an owner (a command or a chain) against its
 * declarations: every problem is collected, then thrown as one ValidationError whose
 * issues name each parameter and rule. Defaults are filled in.
 */
export function validateParams(owner: string, specs: readonly ParamSpec[], input: unknown): ResolvedParams {
  const issues: ParamIssue[] = [];
  const values = input ?? {};
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw new ValidationError(`${owner}: params must be an object of name → value, not ${describeType(input)}`, [{ path: 'params', message: 'expected an object' }], {
      details: { rules: [{ param: '(params)', rule: 'param.type' }] },
    });
  }
  const given = values as Record<string, unknown>;
  const known = new Map(specs.map((spec) => [spec.name, spec]));
  for (const name of Object.keys(given)) {
    if (!known.has(name)) {
      const names = specs.map((s) => s.name);
      issues.push({ param: name, rule: 'param.unknown', message: `is not a parameter of ${owner} (${names.length === 0 ? 'it takes none' : `known: ${names.join(', ')}`})` });
    }
  }
  const resolved: Record<string, ParamValue> = {};
  for (const spec of specs) {
    const value = Object.hasOwn(given, spec.name) ? given[spec.name] : undefined;
    if (value === undefined || value === null) {
      if (spec.default !== undefined) resolved[spec.name] = spec.default;
      else if (spec.required === true) issues.push({ param: spec.name, rule: 'param.missing', message: `is required: ${spec.description}` });
      continue;
    }
    const checked = checkParamValue(spec, value);
    if (checked.ok) resolved[spec.name] = checked.value;
    else issues.push({ param: spec.name, rule: checked.rule, message: checked.message });
  }
  if (issues.length > 0) throw paramsError(owner, issues);
  return Object.freeze(resolved);
}

export function paramsError(owner: string, issues: readonly ParamIssue[]): ValidationError {
  const text = issues.map((i) => `params.${i.param}: ${i.message} (${i.rule})`).join('; ');
  return new ValidationError(
    `${owner}: ${text}`,
    issues.map((i) => ({ path: `params.${i.param}`, message: i.message })),
    { details: { rules: issues.map((i) => ({ param: i.param, rule: i.rule })) } },
  );
}
