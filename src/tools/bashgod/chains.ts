import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { deepFreeze, NotFoundError, ValidationError } from '../../core/index.js';
import { BUILTIN_PROFILES, type BuiltinProfileName } from '../../policy/index.js';
import { RISKS, type Risk } from '../tool.js';
import type { CommandSpec, ParamSpec } from './catalogue-schema.js';
import { findCommand } from './catalogue.js';
import { chainFileSchema, type ChainMode, type ChainSpec, type ChainStep } from './chain-schema.js';
import { checkParamValue, shown, validateParams, type ParamValue, type ResolvedParams } from './params.js';
import { renderCommand, type ArgvSource } from './render.js';

/**
 * Chains: loading with every reference checked (commands, parameters and their
 * types, step conditions and their order), and rendering into a plan the executor
 * runs. A chain that would fail half-way for a reason visible in its definition
 * fails to load instead.
 */

export type CommandLookup = (id: string) => CommandSpec | undefined;

export interface PlannedStep {
  id: string;
  command: string;
  argv: string[];
  sources: ArgvSource[];
  risk: Risk;
  profile: BuiltinProfileName;
  network: boolean;
  timeoutMs?: number;
  /** Steps that must have finished before this one starts. */
  after: string[];
  /** Run only when this step ran and ended with this status (conditional chains). */
  when?: { step: string; status: 'success' | 'failure' };
  /** This step's standard input is that step's standard output (pipeline chains). */
  stdinFrom?: string;
}

export interface ChainPlan {
  chain: string;
  title: string;
  mode: ChainMode;
  stopOnFailure: boolean;
  params: ResolvedParams;
  /** The least permissive profile under which every step's own profile is met. */
  profile: BuiltinProfileName;
  /** The highest risk of any step. */
  risk: Risk;
  network: boolean;
  /** In the order they are started. */
  steps: PlannedStep[];
}

interface Issue {
  path: string;
  message: string;
}

const WHOLE_REF = /^\{([a-z][a-z0-9_]*)\}$/;
const INNER_REF = /\{([a-z][a-z0-9_]*)\}/g;

/** Parses and checks chain definitions (YAML text); a ValidationError lists every problem. */
export function parseChains(text: string, options: { source?: string; lookup?: CommandLookup } = {}): readonly ChainSpec[] {
  const source = options.source ?? 'chains';
  const lookup = options.lookup ?? findCommand;
  let data: unknown;
  try {
    data = parse(text, { uniqueKeys: true });
  } catch (error) {
    throw new ValidationError(`${source}: not valid YAML: ${(error as Error).message}`, [{ path: '(yaml)', message: 'invalid YAML' }]);
  }
  const result = chainFileSchema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || '(top)', message: i.message }));
    throw invalid(source, issues);
  }
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const chain of result.data.chains) {
    if (seen.has(chain.id)) issues.push({ path: chain.id, message: 'the chain id is used twice' });
    seen.add(chain.id);
    issues.push(...chainProblems(chain, lookup));
  }
  if (issues.length > 0) throw invalid(source, issues);
  return deepFreeze(result.data.chains);
}

function invalid(source: string, issues: readonly Issue[]): ValidationError {
  return new ValidationError(`${source}: invalid chain definitions: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/** Everything wrong with one chain, each problem with a path naming the chain, step and field. */
export function chainProblems(chain: ChainSpec, lookup: CommandLookup): Issue[] {
  const issues: Issue[] = [];
  const at = (path: string, message: string) => issues.push({ path: `${chain.id}.${path}`, message });
  const chainParams = new Map(chain.params.map((p) => [p.name, p]));
  if (chainParams.size !== chain.params.length) at('params', 'a parameter is declared twice');
  for (const spec of chain.params) {
    if (spec.default === undefined) continue;
    const checked = checkParamValue(spec, spec.default);
    if (!checked.ok) at(`params.${spec.name}.default`, checked.message);
  }

  const stepIds = new Set<string>();
  for (const step of chain.steps) {
    if (stepIds.has(step.id)) at(`steps.${step.id}`, 'the step id is used twice');
    stepIds.add(step.id);
  }
  modeProblems(chain, lookup, at);

  const used = new Set<string>();
  for (const step of chain.steps) {
    const command = lookup(step.command);
    if (command === undefined) {
      at(`steps.${step.id}.command`, `unknown command ${JSON.stringify(step.command)}`);
      continue;
    }
    stepParamProblems(step, command, chainParams, used, (path, message) => at(`steps.${step.id}.${path}`, message));
  }
  for (const spec of chain.params) if (!used.has(spec.name)) at(`params.${spec.name}`, 'is declared but no step uses it');

  const order = stepOrder(chain);
  if (!order.ok) at(`steps.${order.step}.when`, order.message);

  if (issues.length === 0) {
    try {
      renderChain(chain, chain.example, lookup);
    } catch (error) {
      at('example', `does not render: ${(error as Error).message}`);
    }
  }
  return issues;
}

function modeProblems(chain: ChainSpec, lookup: CommandLookup, at: (path: string, message: string) => void): void {
  if (chain.stopOnFailure !== undefined && chain.mode !== 'sequential') at('stopOnFailure', `only sequential chains stop on failure; this one is ${chain.mode}`);
  if (chain.mode !== 'conditional') {
    for (const step of chain.steps) if (step.when !== undefined) at(`steps.${step.id}.when`, `only conditional chains have conditions; this one is ${chain.mode}`);
  } else if (!chain.steps.some((s) => s.when !== undefined)) {
    at('steps', 'a conditional chain needs at least one step with when: { step, status }');
  }
  if (chain.mode === 'pipeline') {
    if (chain.steps.length < 2) at('steps', 'a pipeline needs at least two steps');
    for (const step of chain.steps.slice(1)) {
      const command = lookup(step.command);
      if (command !== undefined && !command.stdin) at(`steps.${step.id}.command`, `${command.id} does not read standard input, so it cannot follow another step in a pipeline`);
    }
  }
}

function stepParamProblems(step: ChainStep, command: CommandSpec, chainParams: ReadonlyMap<string, ParamSpec>, used: Set<string>, at: (path: string, message: string) => void): void {
  const commandParams = new Map(command.params.map((p) => [p.name, p]));
  for (const [name, value] of Object.entries(step.params)) {
    const target = commandParams.get(name);
    if (target === undefined) {
      const known = command.params.map((p) => p.name);
      at(`params.${name}`, `is not a parameter of ${command.id} (${known.length === 0 ? 'it takes none' : `known: ${known.join(', ')}`})`);
      continue;
    }
    const ref = typeof value === 'string' ? WHOLE_REF.exec(value)?.[1] : undefined;
    if (ref !== undefined) {
      used.add(ref);
      const source = chainParams.get(ref);
      if (source === undefined) {
        at(`params.${name}`, `{${ref}} is not a parameter of the chain`);
        continue;
      }
      const mismatch = incompatibility(source, target);
      if (mismatch !== undefined) at(`params.${name}`, `chain parameter ${ref} cannot feed ${command.id}'s ${name}: ${mismatch}`);
      if (target.required === true && source.required !== true && source.default === undefined) {
        at(`params.${name}`, `${command.id} requires ${name}, but chain parameter ${ref} is optional and has no default`);
      }
      continue;
    }
    if (typeof value === 'string') {
      const spliced = [...value.matchAll(INNER_REF)].map((m) => m[1]!).filter((n) => chainParams.has(n));
      if (spliced.length > 0) {
        at(`params.${name}`, `${shown(value)} splices {${spliced[0]}} into text; a chain parameter can only be a whole value`);
        continue;
      }
    }
    const checked = checkParamValue(target, value);
    if (!checked.ok) at(`params.${name}`, `${checked.message} (${checked.rule})`);
  }
  for (const spec of command.params) {
    if (spec.required === true && !Object.hasOwn(step.params, spec.name)) at(`params.${spec.name}`, `${command.id} requires ${spec.name}: ${spec.description}`);
  }
}

/** Why a chain parameter's values may not all be valid for a command parameter; undefined when they are. */
function incompatibility(source: ParamSpec, target: ParamSpec): string | undefined {
  if (source.type !== target.type) return `one is a ${source.type}, the other a ${target.type}`;
  if (source.type === 'enum' && target.type === 'enum') {
    const extra = source.values.filter((v) => !target.values.includes(v));
    if (extra.length > 0) return `${extra.join(', ')} ${extra.length === 1 ? 'is' : 'are'} not among ${target.values.join(', ')}`;
  }
  if (source.type === 'integer' && target.type === 'integer') {
    const below = target.min !== undefined && (source.min === undefined || source.min < target.min);
    const above = target.max !== undefined && (source.max === undefined || source.max > target.max);
    if (below || above) return `the chain allows ${source.min ?? '-∞'}..${source.max ?? '∞'}, the command ${target.min ?? '-∞'}..${target.max ?? '∞'}`;
  }
  if (source.type === 'host' && target.type === 'host' && (target.kind ?? 'any') !== 'any' && source.kind !== target.kind) return `the command takes only a host ${target.kind}`;
  if ((source.type === 'string' || source.type === 'pattern') && (target.type === 'string' || target.type === 'pattern')) {
    if (source.leadingDash === true && target.leadingDash !== true) return 'the chain allows a leading "-" and the command does not';
    if (source.type === 'string' && target.type === 'string' && target.match !== undefined && source.match !== target.match) return `the command's values must match ${target.match}; give the chain parameter the same match`;
  }
  return undefined;
}

type Order = { ok: true; steps: ChainStep[] } | { ok: false; step: string; message: string };

/** Steps in the order they start: listing order, except that a step comes after the step its condition names. */
function stepOrder(chain: ChainSpec): Order {
  const byId = new Map(chain.steps.map((s) => [s.id, s]));
  for (const step of chain.steps) {
    if (step.when === undefined) continue;
    if (step.when.step === step.id) return { ok: false, step: step.id, message: `step ${step.id} depends on itself (a cycle)` };
    if (!byId.has(step.when.step)) return { ok: false, step: step.id, message: `refers to unknown step ${JSON.stringify(step.when.step)}` };
  }
  const done = new Set<string>();
  const ordered: ChainStep[] = [];
  const visiting: string[] = [];
  const visit = (step: ChainStep): string[] | undefined => {
    if (done.has(step.id)) return undefined;
    const loop = visiting.indexOf(step.id);
    if (loop !== -1) return [...visiting.slice(loop), step.id];
    visiting.push(step.id);
    const dependency = step.when === undefined ? undefined : byId.get(step.when.step);
    const cycle = dependency === undefined ? undefined : visit(dependency);
    visiting.pop();
    if (cycle !== undefined) return cycle;
    done.add(step.id);
    ordered.push(step);
    return undefined;
  };
  for (const step of chain.steps) {
    const cycle = visit(step);
    if (cycle !== undefined) return { ok: false, step: cycle[0]!, message: `the conditions form a cycle: ${cycle.join(' → ')}` };
  }
  return { ok: true, steps: ordered };
}

/** A chain's steps with their argv rendered from the chain's params: what the executor runs. */
export function renderChain(chain: ChainSpec, params: unknown, lookup: CommandLookup = findCommand): ChainPlan {
  const resolved = validateParams(chain.id, chain.params, params);
  const order = stepOrder(chain);
  if (!order.ok) throw new ValidationError(`${chain.id}: ${order.message}`, [{ path: `steps.${order.step}.when`, message: order.message }]);
  const steps: PlannedStep[] = [];
  order.steps.forEach((step, index) => {
    const command = lookup(step.command);
    if (command === undefined) throw new NotFoundError(`${chain.id}: step ${step.id}: unknown command ${JSON.stringify(step.command)}`);
    const values: Record<string, ParamValue> = {};
    for (const [name, value] of Object.entries(step.params)) {
      const ref = typeof value === 'string' ? WHOLE_REF.exec(value)?.[1] : undefined;
      if (ref === undefined) values[name] = value;
      else if (resolved[ref] !== undefined) values[name] = resolved[ref];
    }
    const rendered = renderCommand(command, values);
    const previous = steps[index - 1]?.id;
    const after = chain.mode === 'sequential' || chain.mode === 'conditional' ? (previous === undefined ? [] : [previous]) : [];
    steps.push({
      id: step.id,
      command: command.id,
      argv: rendered.argv,
      sources: rendered.sources,
      risk: rendered.risk,
      profile: rendered.profile,
      network: rendered.network,
      ...(rendered.timeoutMs === undefined ? {} : { timeoutMs: rendered.timeoutMs }),
      after,
      ...(step.when === undefined ? {} : { when: { ...step.when } }),
      ...(chain.mode === 'pipeline' && previous !== undefined ? { stdinFrom: previous } : {}),
    });
  });
  return {
    chain: chain.id,
    title: chain.title,
    mode: chain.mode,
    stopOnFailure: chain.stopOnFailure ?? false,
    params: resolved,
    profile: BUILTIN_PROFILES[Math.max(...steps.map((s) => BUILTIN_PROFILES.indexOf(s.profile)))]!,
    risk: RISKS[Math.max(...steps.map((s) => RISKS.indexOf(s.risk)))]!,
    network: steps.some((s) => s.network),
    steps,
  };
}

let loaded: readonly ChainSpec[] | undefined;

/** The built-in chains (data/chains.yaml), loaded and checked on first use. */
export function listChains(): readonly ChainSpec[] {
  if (loaded === undefined) {
    const url = new URL('./data/chains.yaml', import.meta.url);
    loaded = parseChains(readFileSync(fileURLToPath(url), 'utf8'), { source: fileURLToPath(url) });
  }
  return loaded;
}

export function findChain(id: string): ChainSpec | undefined {
  return listChains().find((c) => c.id === id);
}

export function getChain(id: string): ChainSpec {
  const chain = findChain(id);
  if (chain === undefined) throw new NotFoundError(`no BashGod chain ${JSON.stringify(id)} (known: ${listChains().map((c) => c.id).join(', ')})`, { details: { id } });
  return chain;
}
