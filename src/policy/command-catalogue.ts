import { z } from 'zod';
import { loadDataFile } from '../core/index.js';

const operandKind = z.enum(['read', 'write', 'list', 'delete', 'text']);
const pathUse = z.enum(['read', 'write', 'list', 'delete']);

const schema = z.strictObject({
  groups: z.record(z.string(), z.array(z.string().min(1))),
  operands: z.record(
    z.string(),
    z.strictObject({
      args: operandKind,
      skip: z.number().int().min(0).optional(),
      skipUnless: z.array(z.string()).optional(),
      follows: z.array(z.string()).optional(),
      last: pathUse.optional(),
      values: z.array(z.string()).optional(),
      paths: z.record(z.string(), pathUse).optional(),
      exec: z.array(z.string()).optional(),
    }),
  ),
});

export type OperandSpec = z.infer<typeof schema>['operands'][string];
export type PathUse = z.infer<typeof pathUse>;

const data = loadDataFile(new URL('./data/commands.yaml', import.meta.url), schema);

const groupByName = new Map<string, string>();
for (const [group, names] of Object.entries(data.groups)) {
  for (const name of names) groupByName.set(name, group);
}

const DEFAULT_SPEC: OperandSpec = { args: 'read' };

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

export function operandSpec(name: string): OperandSpec {
  return data.operands[name] ?? DEFAULT_SPEC;
}
