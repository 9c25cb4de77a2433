import { z } from 'zod';
import { BUILTIN_PROFILES } from '../../policy/index.js';
import { RISKS } from '../tool.js';

/**
 * The BashGod catalogue's data model: typed commands (data/<category>.yaml) whose
 * argv is a template, never a string, so a parameter value can only ever become
 * one whole argv element.
 *
 * Template syntax (a command's `argv`, and the `argv` of a `when` group):
 *
 *   "text"                        a literal element, used exactly as written
 *   "{name}"                      the value of parameter `name` as ONE element; only a
 *                                 string that is nothing but the reference is one
 *   { param: name, as: form }     the same, rendered in another form: durations as
 *                                 `seconds`, `minutes` or `ago` ("30 minutes ago"),
 *                                 hosts as `bracketed` (IPv6 literals in [ ])
 *   { literal: "{x}" }            a literal that would otherwise read as a reference
 *   { when: name, argv: [...] }   elements included only when `name` is set (for a
 *                                 boolean: true); with `equals: v`, only when it is v
 *   { join: ["+", "{mb}", "M"] }  ONE element built from literals and parameters of
 *                                 closed types only (integer, port, enum, host,
 *                                 duration): values that cannot carry a space, a quote
 *                                 or an option of their own
 *
 * A literal that contains a reference to one of the command's parameters inside
 * other text ("--lines={n}") is a load error: splicing a value into text is exactly
 * what the template exists to prevent. Values starting with "-" are refused for every
 * type unless the parameter says `leadingDash: true` (patterns and strings) or is an
 * integer whose range goes below zero; such a reference must directly follow the
 * option literal that consumes it (`-e`, `--`, `-b`), so it can never be read as an
 * option itself. The checks live in template.ts and catalogue.ts.
 */

export const CATEGORIES = ['system', 'performance', 'network', 'security', 'development', 'devops', 'database', 'coordination'] as const;
export type Category = (typeof CATEGORIES)[number];

export const PLATFORMS = ['linux', 'darwin'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const PARAM_TYPES = ['enum', 'integer', 'port', 'path', 'host', 'duration', 'pattern', 'string', 'boolean', 'url'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

/** Types whose values are fully determined by their syntax: the only ones a `join` may hold. */
export const CLOSED_TYPES: ReadonlySet<ParamType> = new Set(['integer', 'port', 'enum', 'host', 'duration']);

export const VALUE_FORMS = ['seconds', 'minutes', 'ago', 'bracketed'] as const;
export type ValueForm = (typeof VALUE_FORMS)[number];
/** Which rendered forms each type has besides its plain text. */
export const FORMS_BY_TYPE: Partial<Record<ParamType, readonly ValueForm[]>> = {
  duration: ['seconds', 'minutes', 'ago'],
  host: ['bracketed'],
};

export const PARAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** A bare executable name: looked up on the search path, never a path of its own. */
const EXECUTABLE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

const paramName = z.string().regex(PARAM_NAME, 'parameter names are snake_case: lower-case letters, digits and _');
const description = z.string().min(5).max(300);

const base = { name: paramName, description, required: z.boolean().optional() };
const lengthLimit = z.number().int().min(1).max(4096).optional();

const enumParam = z.strictObject({ ...base, type: z.literal('enum'), values: z.array(z.string().min(1).max(64)).min(1).max(64), default: z.string().optional() });
const integerParam = z.strictObject({ ...base, type: z.literal('integer'), min: z.number().int().optional(), max: z.number().int().optional(), default: z.number().int().optional() });
const portParam = z.strictObject({ ...base, type: z.literal('port'), default: z.number().int().optional() });
const pathParam = z.strictObject({ ...base, type: z.literal('path'), default: z.string().optional() });
const hostParam = z.strictObject({ ...base, type: z.literal('host'), kind: z.enum(['any', 'name', 'address']).optional(), default: z.string().optional() });
const durationParam = z.strictObject({ ...base, type: z.literal('duration'), min: z.string().optional(), max: z.string().optional(), default: z.string().optional() });
const patternParam = z.strictObject({ ...base, type: z.literal('pattern'), maxLength: lengthLimit, leadingDash: z.boolean().optional(), default: z.string().optional() });
const stringParam = z.strictObject({
  ...base,
  type: z.literal('string'),
  maxLength: lengthLimit,
  /** A regular expression the whole value must match (anchored when checked). */
  match: z.string().min(1).max(500).optional(),
  leadingDash: z.boolean().optional(),
  default: z.string().optional(),
});
const booleanParam = z.strictObject({ ...base, type: z.literal('boolean'), default: z.boolean().optional() });
const urlParam = z.strictObject({ ...base, type: z.literal('url'), default: z.string().optional() });

export const paramSchema = z
  .discriminatedUnion('type', [enumParam, integerParam, portParam, pathParam, hostParam, durationParam, patternParam, stringParam, booleanParam, urlParam])
  .superRefine((param, ctx) => {
    if (param.required === true && param.default !== undefined) ctx.addIssue({ code: 'custom', message: `${param.name}: a required parameter has no default` });
    if (param.type === 'integer' && param.min !== undefined && param.max !== undefined && param.min > param.max) {
      ctx.addIssue({ code: 'custom', message: `${param.name}: min is greater than max` });
    }
    if (param.type === 'enum' && new Set(param.values).size !== param.values.length) ctx.addIssue({ code: 'custom', message: `${param.name}: enum values repeat` });
    if (param.type === 'string' && param.match !== undefined) {
      try {
        new RegExp(param.match, 'u');
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `${param.name}: match is not a regular expression: ${(error as Error).message}` });
      }
    }
  });

export type ParamSpec = z.infer<typeof paramSchema>;

/** A literal, or a reference to a parameter, as it may appear in a join. */
export type ValueRef = string | { param: string; as?: ValueForm };

export type TemplateElement =
  | string
  | { literal: string }
  | { param: string; as?: ValueForm }
  | { join: ValueRef[] }
  | { when: string; equals?: string | number | boolean; argv: TemplateElement[] };

const refObject = z.strictObject({ param: paramName, as: z.enum(VALUE_FORMS).optional() });
const literalText = z.string().min(1).max(2048);

export const templateElementSchema: z.ZodType<TemplateElement> = z.lazy(() =>
  z.union([
    literalText,
    z.strictObject({ literal: literalText }),
    refObject,
    z.strictObject({ join: z.array(z.union([literalText, refObject])).min(2).max(8) }),
    z.strictObject({ when: paramName, equals: z.union([z.string(), z.number(), z.boolean()]).optional(), argv: z.array(templateElementSchema).min(1).max(16) }),
  ]),
);

const exampleValue = z.union([z.string(), z.number(), z.boolean()]);

export const commandSchema = z.strictObject({
  id: z.string().max(64).regex(KEBAB, 'ids are kebab-case'),
  category: z.enum(CATEGORIES),
  title: z.string().min(3).max(80),
  /** One or two sentences: what it tells you and when to use it. */
  description: z.string().min(20).max(400),
  argv: z.array(templateElementSchema).min(1).max(48),
  params: z.array(paramSchema).max(16).default([]),
  risk: z.enum(RISKS),
  /** The least permissive built-in profile under which the example passes the policy. */
  profile: z.enum(BUILTIN_PROFILES),
  platforms: z.array(z.enum(PLATFORMS)).min(1),
  /** Executables that must be on the search path; argv[0] at least. */
  requires: z.array(z.string().regex(EXECUTABLE, 'a bare executable name')).min(1),
  example: z.record(z.string(), exampleValue).default({}),
  timeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
  tags: z.array(z.string().regex(KEBAB, 'tags are kebab-case')).default([]),
  /** The command reads standard input when no file is named: it can follow another in a pipeline. */
  stdin: z.boolean().default(false),
  /** The command talks to other hosts: it needs a profile whose sandbox has network. */
  network: z.boolean().default(false),
});

export type CommandSpec = z.infer<typeof commandSchema>;

export const commandFileSchema = z.strictObject({
  /** Parameters declared once, for YAML anchors (&name) that commands reuse (*name); not used otherwise. */
  definitions: z.array(paramSchema).optional(),
  commands: z.array(commandSchema).min(1),
});
