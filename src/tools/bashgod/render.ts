import { parseDuration } from '../../core/index.js';
import type { CommandSpec, ParamSpec, TemplateElement, ValueForm } from './catalogue-schema.js';
import { validateParams, type ParamValue, type ResolvedParams } from './params.js';
import { nodeOf, type Part } from './template.js';

/**
 * Turns a command and a params object into the argv that will be judged and run.
 * Each parameter becomes whole elements; nothing is ever parsed by a shell.
 */

/** Where an argv element came from: proof that no value was spliced into text. */
export type ArgvSource = { kind: 'literal' } | { kind: 'param'; param: string } | { kind: 'join'; params: string[] };

export interface RenderedCommand {
  id: string;
  argv: string[];
  /** One entry per argv element. */
  sources: ArgvSource[];
  /** The validated values, defaults filled in. */
  params: ResolvedParams;
  risk: CommandSpec['risk'];
  profile: CommandSpec['profile'];
  timeoutMs?: number;
  network: boolean;
}

const UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' };

/** A validated value as element text, in the form the template asks for. */
export function formatValue(spec: ParamSpec, value: ParamValue, as?: ValueForm): string {
  if (spec.type === 'duration' && typeof value === 'string' && as !== undefined) {
    const seconds = parseDuration(value, spec.name);
    if (as === 'seconds') return String(seconds);
    if (as === 'minutes') return String(Math.ceil(seconds / 60));
    // "30 minutes ago": read alike by systemd (journalctl --since) and git's approxidate.
    const [, count, unit] = /^(\d+)([smhdw])$/.exec(value.trim())!;
    return `${Number(count)} ${UNIT_WORDS[unit!]}${Number(count) === 1 ? '' : 's'} ago`;
  }
  if (spec.type === 'host' && as === 'bracketed' && typeof value === 'string' && value.includes(':')) return `[${value}]`;
  return String(value);
}

export function renderCommand(command: CommandSpec, params: unknown): RenderedCommand {
  const resolved = validateParams(command.id, command.params, params);
  const specs = new Map(command.params.map((p) => [p.name, p]));
  const argv: string[] = [];
  const sources: ArgvSource[] = [];

  const valueOf = (part: Extract<Part, { kind: 'ref' }>): string => {
    const spec = specs.get(part.param);
    const value = resolved[part.param];
    // The catalogue's load checks make both impossible; failing loudly beats rendering a hole.
    if (spec === undefined || value === undefined) throw new Error(`${command.id}: {${part.param}} has no value to render`);
    return formatValue(spec, value, part.as);
  };

  const walk = (elements: readonly TemplateElement[]) => {
    for (const element of elements) {
      const node = nodeOf(element);
      switch (node.kind) {
        case 'literal':
          argv.push(node.text);
          sources.push({ kind: 'literal' });
          break;
        case 'ref':
          argv.push(valueOf(node));
          sources.push({ kind: 'param', param: node.param });
          break;
        case 'join':
          argv.push(node.parts.map((part) => (part.kind === 'literal' ? part.text : valueOf(part))).join(''));
          sources.push({ kind: 'join', params: node.parts.flatMap((part) => (part.kind === 'ref' ? [part.param] : [])) });
          break;
        case 'when': {
          const value = resolved[node.param];
          const included = value !== undefined && value !== false && (node.equals === undefined || node.equals === value);
          if (included) walk(node.argv);
          break;
        }
      }
    }
  };
  walk(command.argv);

  return {
    id: command.id,
    argv,
    sources,
    params: resolved,
    risk: command.risk,
    profile: command.profile,
    ...(command.timeoutMs === undefined ? {} : { timeoutMs: command.timeoutMs }),
    network: command.network,
  };
}
