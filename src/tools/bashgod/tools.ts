/**
 * The BashGod tools: find, explain, check and run catalogue commands and chains.
 * A command's argv is rendered from its typed template (render.ts), never from a
 * string, and runs through ctx.exec like any other command: judged by the policy,
 * no shell, the profile's sandbox and limits. On top of the tool's own permission,
 * running a command needs the command's: `tool.bashgod.<id>:<risk>` (chain-run.ts).
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/index.js';
import { argvLine } from '../../exec/index.js';
import { commandResultFields, commandResultOf } from '../command-result.js';
import type { ToolContext } from '../context.js';
import { anyTool, defineTool, RISKS, type Risk } from '../tool.js';
import { missingExecutables } from './availability.js';
import { CATEGORIES, PARAM_TYPES, PLATFORMS, type CommandSpec, type ParamSpec, type TemplateElement } from './catalogue-schema.js';
import { getCommand, searchCommands } from './catalogue.js';
import { CHAIN_STATUSES, STEP_STATUSES, STEP_STREAM_BYTES, commandPermission, missingMessage, runChain, type ChainResult, type StepResult } from './chain-run.js';
import { CHAIN_MODES } from './chain-schema.js';
import { getChain, listChains as catalogueChains, renderChain } from './chains.js';
import { renderCommand } from './render.js';
import { MAX_SEARCH_LIMIT } from './search.js';
import { nodeOf } from './template.js';

const value = z.union([z.string(), z.number(), z.boolean()]);
const commandId = z.string().min(1).max(64).describe('A command id from bashgod_search, such as disk-usage-by-directory.');
const params = z.record(z.string(), value).optional().describe('Parameter values by name; bashgod_describe lists them. Defaults fill in the rest.');
const cwd = z.string().min(1).optional().describe('Working directory inside the workspace roots; default the first root.');

const paramView = z.object({
  name: z.string(),
  type: z.enum(PARAM_TYPES),
  description: z.string(),
  required: z.boolean(),
  default: value.optional(),
  values: z.array(z.string()).optional(),
  min: z.union([z.number(), z.string()]).optional(),
  max: z.union([z.number(), z.string()]).optional(),
  kind: z.string().optional(),
  maxLength: z.number().int().optional(),
  match: z.string().optional(),
  leadingDash: z.boolean().optional(),
});
type ParamView = z.input<typeof paramView>;

function viewParam(spec: ParamSpec): ParamView {
  // Every type's constraints are fields of the view; the schema drops nothing but unknowns.
  return { ...spec, required: spec.required === true };
}

function describeParam(param: z.output<typeof paramView>): string {
  const facts: string[] = [param.type];
  if (param.values !== undefined) facts.push(`one of ${param.values.join('|')}`);
  if (param.min !== undefined) facts.push(`min ${param.min}`);
  if (param.max !== undefined) facts.push(`max ${param.max}`);
  if (param.kind !== undefined && param.kind !== 'any') facts.push(`host ${param.kind}`);
  if (param.maxLength !== undefined) facts.push(`at most ${param.maxLength} characters`);
  if (param.match !== undefined) facts.push(`matching ${param.match}`);
  if (param.leadingDash === true) facts.push('may start with -');
  facts.push(param.required ? 'required' : param.default === undefined ? 'optional' : `default ${JSON.stringify(param.default)}`);
  return `  ${param.name} (${facts.join(', ')}): ${param.description}`;
}

/** A template as a readable line: {name} is a parameter's value, [if name: …] elements that appear only when it is set. */
export function templateLine(argv: readonly TemplateElement[]): string {
  return argv
    .map((element) => {
      const node = nodeOf(element);
      switch (node.kind) {
        case 'literal':
          return argvLine([node.text]);
        case 'ref':
          return `{${node.param}${node.as === undefined ? '' : `:${node.as}`}}`;
        case 'join':
          return node.parts.map((part) => (part.kind === 'literal' ? part.text : `{${part.param}${part.as === undefined ? '' : `:${part.as}`}}`)).join('');
        case 'when':
          return `[if ${node.param}${node.equals === undefined ? '' : `=${String(node.equals)}`}: ${templateLine(node.argv)}]`;
      }
    })
    .join(' ');
}

function highestRisk(risks: readonly Risk[]): Risk {
  return RISKS[Math.max(0, ...risks.map((risk) => RISKS.indexOf(risk)))]!;
}

const search = defineTool('bashgod', {
  name: 'search',
  title: 'Search BashGod commands',
  description: 'Find vetted, parameterised shell commands by what they do (disk usage, open ports, git history …).',
  usage: [
    'Ranks the BashGod catalogue against the query words (id, tags and program weigh most, the description least).',
    'Filter by category and by risk (read, write, execute, admin). An empty query lists commands in catalogue order.',
    'Each hit says whether this machine has the programs it needs (missing lists those it lacks).',
    'Next: bashgod_describe for a command\'s parameters, bashgod_validate to check a call, bashgod_run to run it.',
  ].join(' '),
  input: z.strictObject({
    query: z.string().max(500).describe('What you want to find out or do, in a few words.'),
    category: z.enum(CATEGORIES).optional(),
    risk: z.enum(RISKS).optional(),
    limit: z.number().int().min(1).max(MAX_SEARCH_LIMIT).optional(),
  }),
  output: z.object({
    hits: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        category: z.enum(CATEGORIES),
        risk: z.enum(RISKS),
        description: z.string(),
        available: z.boolean(),
        missing: z.array(z.string()),
      }),
    ),
  }),
  risk: 'read',
  async run(_ctx, input) {
    const hits = searchCommands(input.query, {
      ...(input.category === undefined ? {} : { category: input.category }),
      ...(input.risk === undefined ? {} : { risk: input.risk }),
      ...(input.limit === undefined ? {} : { limit: input.limit }),
    });
    return {
      hits: hits.map(({ command }) => {
        const missing = missingExecutables(command);
        return { id: command.id, title: command.title, category: command.category, risk: command.risk, description: command.description, available: missing.length === 0, missing };
      }),
    };
  },
  text: (output) =>
    output.hits.length === 0
      ? 'no matching BashGod commands'
      : output.hits.map((hit) => `${hit.id} [${hit.category}, ${hit.risk}]${hit.available ? '' : ` (not installed: ${hit.missing.join(', ')})`}\n  ${hit.description}`).join('\n'),
  auditResult: (output) => ({ hits: output.hits.map((hit) => hit.id) }),
});

const describeCommand = defineTool('bashgod', {
  name: 'describe',
  title: 'Describe a BashGod command',
  description: 'Show a BashGod command in full: its parameters with types, limits and defaults, its argv template and a worked example.',
  usage: [
    'Returns everything needed to call a command: each parameter (type, allowed values or range, default, whether required),',
    'the argv template ({name} is one whole argument, [if name: …] appears only when name is set), the example params and',
    'the argv they render to, the command\'s own risk and the permission running it needs (tool.bashgod.<id>:<risk>), the',
    'least permissive profile it works under, and which required programs this machine lacks.',
  ].join(' '),
  input: z.strictObject({ id: commandId }),
  output: z.object({
    id: z.string(),
    title: z.string(),
    category: z.enum(CATEGORIES),
    description: z.string(),
    risk: z.enum(RISKS),
    permission: z.string(),
    profile: z.string(),
    platforms: z.array(z.enum(PLATFORMS)),
    requires: z.array(z.string()),
    missing: z.array(z.string()),
    network: z.boolean(),
    stdin: z.boolean(),
    timeoutMs: z.number().int().optional(),
    tags: z.array(z.string()),
    params: z.array(paramView),
    template: z.string(),
    example: z.record(z.string(), value),
    exampleArgv: z.array(z.string()),
  }),
  risk: 'read',
  async run(_ctx, input) {
    const command = getCommand(input.id);
    return {
      id: command.id,
      title: command.title,
      category: command.category,
      description: command.description,
      risk: command.risk,
      permission: commandPermission(command.id, command.risk),
      profile: command.profile,
      platforms: [...command.platforms],
      requires: [...command.requires],
      missing: missingExecutables(command),
      network: command.network,
      stdin: command.stdin,
      ...(command.timeoutMs === undefined ? {} : { timeoutMs: command.timeoutMs }),
      tags: [...command.tags],
      params: command.params.map(viewParam),
      template: templateLine(command.argv),
      example: { ...command.example },
      exampleArgv: renderCommand(command, command.example).argv,
    };
  },
  text(output) {
    const lines = [
      `${output.id}: ${output.title} [${output.category}, risk ${output.risk}, profile ${output.profile}]`,
      output.description,
      `template: ${output.template}`,
      output.params.length === 0 ? 'params: none' : `params:\n${output.params.map(describeParam).join('\n')}`,
      `example: ${JSON.stringify(output.example)} → ${argvLine(output.exampleArgv)}`,
      `requires: ${output.requires.join(', ')}${output.missing.length === 0 ? '' : ` (not installed here: ${output.missing.join(', ')})`}`,
      `permission: ${output.permission}`,
    ];
    if (output.stdin) lines.push('reads standard input when no file is named (can follow another step in a pipeline chain)');
    if (output.network) lines.push('talks to other hosts: needs a profile whose sandbox has network');
    return lines.join('\n');
  },
  auditResult: (output) => ({ id: output.id }),
});

const validate = defineTool('bashgod', {
  name: 'validate',
  title: 'Check a BashGod call without running it',
  description: 'Render a BashGod command with your params and ask the safety policy about it, without running anything.',
  usage: [
    'Returns the exact argv that bashgod_run would execute and the policy\'s verdict on it: allowed, or refused with the',
    'rule and reason (a refusal is a normal answer here, not an error). Invalid params are an error naming each parameter.',
    'approvable: true means the profile lets a person approve this exact call when it runs. missing lists required',
    'programs this machine lacks; permission is what the caller needs beyond bashgod_run itself.',
    'cwd is judged as bashgod_run would judge it (relative paths resolve against it).',
  ].join(' '),
  input: z.strictObject({ id: commandId, params, cwd }),
  output: z.object({
    id: z.string(),
    argv: z.array(z.string()),
    allowed: z.boolean(),
    rule: z.string().optional(),
    severity: z.string().optional(),
    reason: z.string().optional(),
    /** The refusal is one a person may lift for this exact call (the profile marks the rule `ask`). */
    approvable: z.boolean().optional(),
    missing: z.array(z.string()),
    risk: z.enum(RISKS),
    permission: z.string(),
  }),
  risk: 'read',
  async run(ctx, input) {
    const command = getCommand(input.id);
    const rendered = renderCommand(command, input.params ?? {});
    const { decision } = await ctx.exec.judge({ argv: rendered.argv }, input.cwd === undefined ? {} : { cwd: input.cwd });
    return {
      id: command.id,
      argv: rendered.argv,
      allowed: decision.allowed,
      // The allowing "rule" says only that nothing refused; a refusal's rule is the news.
      ...(decision.allowed ? {} : { rule: decision.rule, severity: decision.severity, reason: decision.reason }),
      ...(!decision.allowed && decision.ask === true ? { approvable: true } : {}),
      missing: missingExecutables(command),
      risk: command.risk,
      permission: commandPermission(command.id, command.risk),
    };
  },
  text(output) {
    const verdict = output.allowed
      ? 'allowed by the policy'
      : `refused by the policy: ${output.rule} (${output.severity}): ${output.reason}${output.approvable === true ? ' (a person may approve this call)' : ''}`;
    const missing = output.missing.length === 0 ? '' : `\nnot installed here: ${output.missing.join(', ')}`;
    return `$ ${argvLine(output.argv)}\n${verdict}\nneeds ${output.permission}${missing}`;
  },
  auditResult: (output) => ({ id: output.id, argv: output.argv, allowed: output.allowed, rule: output.rule }),
});

/** The command's own permission, then its programs: both checked before anything runs. */
function admitCommand(ctx: Pick<ToolContext, 'authorize'>, command: CommandSpec): void {
  ctx.authorize(commandPermission(command.id, command.risk));
  const missing = missingExecutables(command);
  if (missing.length > 0) {
    throw new NotFoundError(`${command.id}: ${missingMessage(missing)}`, { details: { id: command.id, missing } });
  }
}

function smallerTimeout(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined ? a : Math.min(a, b);
}

const run = defineTool('bashgod', {
  name: 'run',
  title: 'Run a BashGod command',
  description: 'Run a vetted BashGod command with typed params and return its exit code, stdout and stderr. Checked by the safety policy; no shell.',
  usage: [
    'Renders the command from its template (each param is one whole argument, never re-parsed), then checks that the',
    'caller holds the command\'s own permission tool.bashgod.<id>:<risk> (a write command needs the write grant even',
    'though this tool is execute) and that its programs are installed, and only then runs it through the policy, sandbox',
    'and limits like any command. timeoutMs can lower the command\'s and the profile\'s timeout, never raise them.',
    'A policy refusal fails with its rule. Cancelling the call stops the command.',
  ].join(' '),
  input: z.strictObject({ id: commandId, params, cwd, timeoutMs: z.number().int().min(100).max(24 * 3600_000).optional() }),
  output: z.object({ id: z.string(), argv: z.array(z.string()), ...commandResultFields }),
  risk: 'execute',
  hints: { destructive: true, openWorld: true },
  async run(ctx, input) {
    const command = getCommand(input.id);
    const rendered = renderCommand(command, input.params ?? {});
    admitCommand(ctx, command);
    const timeoutMs = smallerTimeout(input.timeoutMs, command.timeoutMs);
    const result = await ctx.exec.run(
      { argv: rendered.argv },
      { ...(input.cwd === undefined ? {} : { cwd: input.cwd }), ...(timeoutMs === undefined ? {} : { timeoutMs }), signal: ctx.signal },
    );
    if (result.aborted) ctx.signal.throwIfAborted();
    return { id: command.id, argv: rendered.argv, ...commandResultOf(result) };
  },
  text(output) {
    const status = output.timedOut ? 'timed out' : output.signal !== null ? `killed by ${output.signal}` : `exit code ${output.exitCode}`;
    const parts = [`$ ${argvLine(output.argv)}`, `(${output.id}: ${status}, ${output.durationMs} ms${output.truncated ? ', output truncated' : ''})`];
    if (output.stdout !== '') parts.push(output.stdout.trimEnd());
    if (output.stderr !== '') parts.push(`[stderr]\n${output.stderr.trimEnd()}`);
    return parts.join('\n');
  },
  auditResult: (output) => ({ id: output.id, argv: output.argv, exitCode: output.exitCode, signal: output.signal, timedOut: output.timedOut, durationMs: output.durationMs }),
});

const listChains = defineTool('bashgod', {
  name: 'list_chains',
  title: 'List BashGod chains',
  description: 'List the named BashGod chains (health check, disk pressure, repo health …) with their mode, params and steps.',
  usage: [
    'A chain runs several catalogue commands: sequential (in order, optionally stopping at the first failure), parallel',
    '(all at once), conditional (a step runs only when an earlier one succeeded or failed) or pipeline (each step\'s',
    'stdout is the next one\'s stdin). risk is the highest of its steps\' risks; missing lists programs this machine',
    'lacks for any step. Run one with bashgod_run_chain.',
  ].join(' '),
  input: z.strictObject({}),
  output: z.object({
    chains: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        description: z.string(),
        mode: z.enum(CHAIN_MODES),
        stopOnFailure: z.boolean(),
        risk: z.enum(RISKS),
        missing: z.array(z.string()),
        params: z.array(paramView),
        steps: z.array(z.object({ id: z.string(), command: z.string(), when: z.object({ step: z.string(), status: z.enum(['success', 'failure']) }).optional() })),
      }),
    ),
  }),
  risk: 'read',
  async run() {
    return {
      chains: catalogueChains().map((chain) => {
        const commands = chain.steps.map((step) => getCommand(step.command));
        return {
          id: chain.id,
          title: chain.title,
          description: chain.description,
          mode: chain.mode,
          stopOnFailure: chain.stopOnFailure ?? false,
          risk: highestRisk(commands.map((command) => command.risk)),
          missing: [...new Set(commands.flatMap((command) => missingExecutables(command)))],
          params: chain.params.map(viewParam),
          steps: chain.steps.map((step) => ({ id: step.id, command: step.command, ...(step.when === undefined ? {} : { when: { ...step.when } }) })),
        };
      }),
    };
  },
  text: (output) =>
    output.chains
      .map((chain) => {
        const steps = chain.steps.map((step) => `${step.id}=${step.command}${step.when === undefined ? '' : ` (if ${step.when.step} ${step.when.status})`}`);
        const params = chain.params.length === 0 ? '' : `\n  params: ${chain.params.map((p) => `${p.name}${p.required ? '' : '?'}`).join(', ')}`;
        const missing = chain.missing.length === 0 ? '' : `\n  not installed here: ${chain.missing.join(', ')}`;
        return `${chain.id} [${chain.mode}, ${chain.risk}]: ${chain.title}\n  ${chain.description}\n  steps: ${steps.join(chain.mode === 'pipeline' ? ' | ' : ', ')}${params}${missing}`;
      })
      .join('\n'),
  auditResult: (output) => ({ chains: output.chains.length }),
});

const stepOutput = z.object({
  id: z.string(),
  command: z.string(),
  argv: z.array(z.string()),
  status: z.enum(STEP_STATUSES),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
  truncated: z.boolean().optional(),
  timedOut: z.boolean().optional(),
  durationMs: z.number().optional(),
  rule: z.string().optional(),
  reason: z.string().optional(),
});

const STATUS_MARK: Record<StepResult['status'], string> = { ok: 'ok', failed: 'FAILED', denied: 'DENIED', missing: 'MISSING', skipped: 'skipped', cancelled: 'cancelled', error: 'ERROR' };

function chainText(output: ChainResult): string {
  const lines = [`chain ${output.chain} (${output.mode}): ${output.status}`];
  for (const step of output.steps) {
    const detail = step.rule === undefined ? (step.reason ?? '') : `${step.rule}: ${step.reason ?? ''}`;
    lines.push(`  ${step.id}: ${STATUS_MARK[step.status]}  $ ${argvLine(step.argv)}${detail === '' ? '' : `\n      ${detail}`}`);
  }
  for (const step of output.steps) {
    if (step.stdout !== undefined && step.stdout !== '') lines.push(`--- ${step.id}\n${step.stdout.trimEnd()}`);
    if (step.stderr !== undefined && step.stderr !== '') lines.push(`--- ${step.id} [stderr]\n${step.stderr.trimEnd()}`);
  }
  return lines.join('\n');
}

const runChainTool = defineTool('bashgod', {
  name: 'run_chain',
  title: 'Run a BashGod chain',
  description: 'Run a named BashGod chain (see bashgod_list_chains) and return each step\'s status and output.',
  usage: [
    'Renders every step from the chain\'s params, checks that the caller holds each step command\'s permission',
    '(tool.bashgod.<id>:<risk>) before anything runs, then runs the steps by the chain\'s mode. A step whose programs',
    'are missing is reported as missing and one the policy refuses as denied (with the rule); neither runs. Sequential',
    'chains stop at the first failure when the chain says so or stopOnFailure is true (stopOnFailure overrides the',
    'chain, and applies to sequential chains only). Parallel chains run at most 4 steps at once; a step refused for',
    'the process budget is reported as error. Conditional steps that do not run are skipped, with the reason.',
    'Pipelines run as one unit, stdout to stdin through the executor: only the last stage\'s exit code and output are',
    'known, and its stderr holds every stage\'s. Each step\'s stdout and stderr are cut at',
    `${STEP_STREAM_BYTES / 1024} KiB (truncated: true). Status: ok, partial (some steps did not succeed), failed`,
    '(stopped by a failure, a failed pipeline, or nothing succeeded) or cancelled. Cancelling stops the running steps',
    'and starts no more.',
  ].join(' '),
  input: z.strictObject({
    id: z.string().min(1).max(64).describe('A chain id from bashgod_list_chains.'),
    params,
    cwd,
    stopOnFailure: z.boolean().optional().describe('Sequential chains: stop at the first step that does not succeed (overrides the chain\'s setting).'),
  }),
  output: z.object({ chain: z.string(), mode: z.enum(CHAIN_MODES), status: z.enum(CHAIN_STATUSES), steps: z.array(stepOutput) }),
  risk: 'execute',
  hints: { destructive: true, openWorld: true },
  async run(ctx, input) {
    const chain = getChain(input.id);
    if (input.stopOnFailure !== undefined && chain.mode !== 'sequential') {
      const message = `only sequential chains stop on failure; ${chain.id} is ${chain.mode}`;
      throw new ValidationError(`stopOnFailure: ${message}`, [{ path: 'stopOnFailure', message }]);
    }
    const plan = renderChain(chain, input.params ?? {});
    return runChain(ctx, plan, {
      ...(input.cwd === undefined ? {} : { cwd: input.cwd }),
      ...(input.stopOnFailure === undefined ? {} : { stopOnFailure: input.stopOnFailure }),
    });
  },
  text: chainText,
  auditResult: (output) => ({
    chain: output.chain,
    status: output.status,
    steps: output.steps.map((step) => ({ id: step.id, command: step.command, argv: step.argv, status: step.status, exitCode: step.exitCode, rule: step.rule })),
  }),
});

export { search as searchTool, describeCommand as describeTool, validate as validateTool, run as runTool, listChains as listChainsTool, runChainTool };

export const bashgodTools = [anyTool(search), anyTool(describeCommand), anyTool(validate), anyTool(run), anyTool(listChains), anyTool(runChainTool)];
