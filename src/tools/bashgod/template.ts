import { CLOSED_TYPES, FORMS_BY_TYPE, type ParamSpec, type TemplateElement, type ValueForm, type ValueRef } from './catalogue-schema.js';

/**
 * Reading an argv template (syntax: catalogue-schema.ts) and the static checks that
 * make it safe to render: every reference names a declared parameter, optional
 * values are only used inside a `when` for them, joins hold closed types only, and
 * no literal has a parameter spliced into it.
 */

export type Part = { kind: 'literal'; text: string } | { kind: 'ref'; param: string; as?: ValueForm };

export type Node =
  | Part
  | { kind: 'join'; parts: Part[] }
  | { kind: 'when'; param: string; equals?: string | number | boolean; argv: TemplateElement[] };

const WHOLE_REF = /^\{([a-z][a-z0-9_]*)\}$/;
const INNER_REF = /\{([a-z][a-z0-9_]*)\}/g;

function partOf(value: ValueRef): Part {
  if (typeof value !== 'string') return value.as === undefined ? { kind: 'ref', param: value.param } : { kind: 'ref', param: value.param, as: value.as };
  const ref = WHOLE_REF.exec(value);
  return ref ? { kind: 'ref', param: ref[1]! } : { kind: 'literal', text: value };
}

export function nodeOf(element: TemplateElement): Node {
  if (typeof element === 'string' || 'param' in element) return partOf(element);
  if ('literal' in element) return { kind: 'literal', text: element.literal };
  if ('join' in element) return { kind: 'join', parts: element.join.map(partOf) };
  return element.equals === undefined ? { kind: 'when', param: element.when, argv: element.argv } : { kind: 'when', param: element.when, equals: element.equals, argv: element.argv };
}

/** Parameters a template refers to, as values or as conditions. */
export function referencedParams(argv: readonly TemplateElement[]): Set<string> {
  const names = new Set<string>();
  const visit = (elements: readonly TemplateElement[]) => {
    for (const element of elements) {
      const node = nodeOf(element);
      if (node.kind === 'ref') {
        names.add(node.param);
      } else if (node.kind === 'join') {
        for (const part of node.parts) if (part.kind === 'ref') names.add(part.param);
      } else if (node.kind === 'when') {
        names.add(node.param);
        visit(node.argv);
      }
    }
  };
  visit(argv);
  return names;
}

/** A value that may begin with "-": it must sit right after the option that takes it. */
export function mayStartWithDash(spec: ParamSpec): boolean {
  if (spec.type === 'integer') return spec.min === undefined || spec.min < 0;
  return (spec.type === 'pattern' || spec.type === 'string') && spec.leadingDash === true;
}

/** Whether a parameter can ever hold this value (a `when … equals` that cannot is a typo). */
function canEqual(spec: ParamSpec, value: string | number | boolean): boolean {
  switch (spec.type) {
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
    case 'port':
      return typeof value === 'number';
    default:
      return typeof value === 'string';
  }
}

/** Everything wrong with a template, as messages naming the element; empty when it is sound. */
export function templateProblems(argv: readonly TemplateElement[], params: readonly ParamSpec[]): string[] {
  const problems: string[] = [];
  const specs = new Map(params.map((p) => [p.name, p]));
  const first = argv[0] === undefined ? undefined : nodeOf(argv[0]);
  if (first?.kind !== 'literal') problems.push('argv[0] must be a literal executable name');

  const checkRef = (part: Extract<Part, { kind: 'ref' }>, where: string, guarded: ReadonlySet<string>, before: Node | undefined, inJoin: boolean, joinIndex: number) => {
    const spec = specs.get(part.param);
    if (!spec) {
      problems.push(`${where}: {${part.param}} is not a declared parameter`);
      return;
    }
    if (spec.type === 'boolean') problems.push(`${where}: boolean {${part.param}} can only be a condition (when), not a value`);
    if (part.as !== undefined && !(FORMS_BY_TYPE[spec.type] ?? []).includes(part.as)) problems.push(`${where}: a ${spec.type} parameter has no form "${part.as}"`);
    if (spec.required !== true && spec.default === undefined && !guarded.has(part.param)) {
      problems.push(`${where}: {${part.param}} is optional, so it must be inside { when: ${part.param}, argv: [...] }`);
    }
    if (inJoin && !CLOSED_TYPES.has(spec.type)) problems.push(`${where}: a join may only hold integer, port, enum, host or duration parameters; {${part.param}} is a ${spec.type}`);
    if (mayStartWithDash(spec)) {
      if (inJoin && joinIndex === 0) problems.push(`${where}: {${part.param}} may start with "-", so it cannot begin a joined element`);
      if (!inJoin && !(before?.kind === 'literal' && before.text.startsWith('-'))) {
        problems.push(`${where}: {${part.param}} may start with "-", so it must directly follow the option that takes it (such as -e or --)`);
      }
    }
  };

  const checkLiteral = (text: string, where: string) => {
    for (const match of text.matchAll(INNER_REF)) {
      if (specs.has(match[1]!)) problems.push(`${where}: the literal ${JSON.stringify(text)} splices {${match[1]}} into text; use a separate element or a join`);
    }
  };

  const visit = (elements: readonly TemplateElement[], path: string, guarded: ReadonlySet<string>) => {
    let before: Node | undefined;
    elements.forEach((element, index) => {
      const where = `${path}[${index}]`;
      const node = nodeOf(element);
      if (node.kind === 'literal') checkLiteral(node.text, where);
      else if (node.kind === 'ref') checkRef(node, where, guarded, before, false, 0);
      else if (node.kind === 'join') {
        if (!node.parts.some((p) => p.kind === 'ref')) problems.push(`${where}: a join needs at least one parameter`);
        node.parts.forEach((part, i) => (part.kind === 'ref' ? checkRef(part, `${where}.join[${i}]`, guarded, undefined, true, i) : checkLiteral(part.text, `${where}.join[${i}]`)));
      } else {
        const spec = specs.get(node.param);
        if (!spec) problems.push(`${where}: when: ${node.param} is not a declared parameter`);
        else if (node.equals !== undefined) {
          if (!canEqual(spec, node.equals)) problems.push(`${where}: when: ${node.param} equals ${JSON.stringify(node.equals)}, which a ${spec.type} parameter${spec.type === 'enum' ? ` (${spec.values.join(', ')})` : ''} can never be`);
        }
        visit(node.argv, `${where}.argv`, new Set([...guarded, node.param]));
      }
      before = node;
    });
  };
  visit(argv, 'argv', new Set());

  const used = referencedParams(argv);
  for (const spec of params) if (!used.has(spec.name)) problems.push(`parameter ${spec.name} is declared but never used in argv`);
  return problems;
}
