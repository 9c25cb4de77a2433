import { z } from 'zod';
import { loadDataFile } from '../core/index.js';

const operandKind = z.enum(['read', 'write', 'list', 'delete', 'text']);
const pathUse = z.enum(['read', 'write', 'list', 'delete']);

const operandSpecSchema = z.strictObject({
  args: operandKind,
  skip: z.number().int().min(0).optional(),
  skipUnless: z.array(z.string()).optional(),
  follows: z.array(z.string()).optional(),
  last: pathUse.optional(),
  values: z.array(z.string()).optional(),
  attached: z.array(z.string()).optional(),
  paths: z.record(z.string(), pathUse).optional(),
  exec: z.array(z.string()).optional(),
  inPlace: z.array(z.string()).optional(),
  foldCase: z.boolean().optional(),
});

const verbSpecSchema = z.strictObject({
  read: z.array(z.string().min(1)),
  getters: z.record(z.string(), z.number().int().min(0)).optional(),
  values: z.array(z.string()).optional(),
  multi: z.array(z.string()).optional(),
  joined: z.boolean().optional(),
  noVerb: z.enum(['read', 'change']).optional(),
  info: z.array(z.string()).optional(),
  changes: z.string().min(1),
});

const schema = z.strictObject({
  groups: z.record(z.string(), z.array(z.string().min(1))),
  operands: z.record(z.string(), operandSpecSchema),
  unlisted: operandSpecSchema,
  verbs: z.record(z.string(), verbSpecSchema),
});

export type OperandSpec = z.infer<typeof operandSpecSchema>;
export type VerbSpec = z.infer<typeof verbSpecSchema>;
export type PathUse = z.infer<typeof pathUse>;

const data = loadDataFile(new URL('./data/commands.yaml', import.meta.url), schema);

const groupByName = new Map<string, string>();
for (const [group, names] of Object.entries(data.groups)) {
  for (const name of names) groupByName.set(name, group);
}


/**
 * The name rules compare: base name, lower case, version suffix removed
 * (`/usr/bin/Python3.11` → `python`), so no spelling of a name slips past.
 */
export function canonicalCommandName(argv0: string): string {
  const base = (argv0.split('/').pop() ?? argv0).toLowerCase();
  const unversioned = base.replace(/^(python|pypy|perl|ruby|php|lua|luajit|node|nodejs|tclsh|wish|pip|gawk|mawk)[0-9.]*$/, '$1');
  if (/^mkfs(\..*)?$/.test(unversioned)) return 'mkfs';
  if (/^(iptables|ip6tables)(-.*)?$/.test(unversioned)) return 'iptables';
  return unversioned;
}

export function commandGroup(name: string): string | undefined {
  return groupByName.get(name);
}

/** How a command's arguments are judged; programs not listed get the `unlisted` entry. */
export function operandSpec(name: string): OperandSpec {
  return data.operands[name] ?? data.unlisted;
}

/** Programs whose sub-command says whether they only read (hostnamectl, chronyc …), or undefined. */
export function verbSpec(name: string): VerbSpec | undefined {
  return data.verbs[name];
}

export function verbPrograms(): string[] {
  return Object.keys(data.verbs);
}
