/**
 * Runs a rendered ChainPlan (chains.ts) through ctx.exec, one of four ways by its
 * mode. Every step's own permission is checked before anything starts: a principal
 * must never get the first half of a chain whose second half it may not run. After
 * that, a step that cannot or may not run (a missing program, a policy refusal, a
 * full process budget) becomes that step's status, not the chain's crash, so the
 * caller always learns what happened to each step.
 */
import { IronError, PolicyDeniedError } from '../../core/index.js';
import type { CommandRun, CommandRunOptions } from '../capabilities/guarded-exec.js';
import type { ToolContext } from '../context.js';
import type { Risk } from '../tool.js';
import { missingExecutables } from './availability.js';
import { findCommand } from './catalogue.js';
import type { ChainMode } from './chain-schema.js';
import type { ChainPlan, CommandLookup, PlannedStep } from './chains.js';

export const STEP_STATUSES = ['ok', 'failed', 'denied', 'missing', 'skipped', 'cancelled', 'error'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const CHAIN_STATUSES = ['ok', 'failed', 'partial', 'cancelled'] as const;
export type ChainStatus = (typeof CHAIN_STATUSES)[number];

export interface StepResult {
  id: string;
  command: string;
  argv: string[];
  status: StepStatus;
  exitCode?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
  /** Output was cut, by the profile's limit or the per-step cap. */
  truncated?: boolean;
  timedOut?: boolean;
  durationMs?: number;
  /** The policy rule, for a denied step. */
  rule?: string;
  reason?: string;
}

export interface ChainResult {
  chain: string;
  mode: ChainMode;
  status: ChainStatus;
  steps: StepResult[];
}

/** What running a chain needs of a ToolContext. */
export type ChainContext = Pick<ToolContext, 'exec' | 'signal' | 'authorize' | 'progress'>;

export interface ChainRunOptions {
  cwd?: string;
  /** Sequential chains only; the plan's own setting when not given. */
  stopOnFailure?: boolean;
  /** Parallel chains: how many steps run at once (at most MAX_PARALLEL). */
  concurrency?: number;
  /** Per step and stream; STEP_STREAM_BYTES by default. */
  maxStreamBytes?: number;
  /** Where step commands are looked up (for their executables); the catalogue by default. */
  lookup?: CommandLookup;
}

/**
 * The executor caps each principal's processes (4 under the strict profile, more
 * under the others) and refuses past it; running at most this many steps at once
 * keeps a parallel chain inside even the smallest budget in the common case.
 */
export const MAX_PARALLEL = 4;
/** A chain's result goes to a model's context: each step's stdout and stderr are kept to this many bytes. */
export const STEP_STREAM_BYTES = 64 * 1024;

/**
 * The permission a BashGod command needs beyond the tool's own: `tool.bashgod.<id>:<risk>`.
 * Roles grant tools by risk (`tool.*:write`), so running a write command through the
 * execute tool bashgod_run still needs the write grant.
 */
export function commandPermission(id: string, risk: Risk): string {
  return `tool.bashgod.${id}:${risk}`;
}

/** The message for executables this machine lacks. */
export function missingMessage(missing: readonly string[]): string {
  const one = missing.length === 1;
  return `${missing.join(', ')} ${one ? 'is' : 'are'} not installed on this machine; install ${one ? 'it' : 'them'} or choose another command`;
}

/** Statuses that mean a step did not do its job (a skip or a cancel is a consequence, not a cause). */
const UNSUCCESSFUL: ReadonlySet<StepStatus> = new Set(['failed', 'denied', 'missing', 'error']);

interface Run {
  ctx: ChainContext;
  plan: ChainPlan;
  cwd: { cwd?: string };
  maxStreamBytes: number;
  lookup: CommandLookup;
  report(result: StepResult): StepResult;
}

export async function runChain(ctx: ChainContext, plan: ChainPlan, options: ChainRunOptions = {}): Promise<ChainResult> {
  for (const permission of new Set(plan.steps.map((step) => commandPermission(step.command, step.risk)))) ctx.authorize(permission);
  let done = 0;
  const run: Run = {
    ctx,
    plan,
    cwd: options.cwd === undefined ? {} : { cwd: options.cwd },
    maxStreamBytes: options.maxStreamBytes ?? STEP_STREAM_BYTES,
    lookup: options.lookup ?? findCommand,
    report(result) {
      done += 1;
      ctx.progress(done, plan.steps.length, `step ${result.id}: ${result.status}`);
      return result;
    },
  };
  let steps: StepResult[];
  let stopped = false;
  switch (plan.mode) {
    case 'parallel':
      steps = await runParallel(run, Math.max(1, Math.min(options.concurrency ?? MAX_PARALLEL, MAX_PARALLEL)));
      break;
    case 'pipeline':
      steps = await runPipelineChain(run);
      break;
    case 'sequential':
    case 'conditional': {
      const stopOnFailure = plan.mode === 'sequential' && (options.stopOnFailure ?? plan.stopOnFailure);
      ({ steps, stopped } = await runInOrder(run, stopOnFailure));
      break;
    }
  }
  return { chain: plan.chain, mode: plan.mode, status: chainStatus(plan, steps, stopped), steps };
}

/** Sequential and conditional chains: one step at a time, in plan order (a condition's step always comes first). */
async function runInOrder(run: Run, stopOnFailure: boolean): Promise<{ steps: StepResult[]; stopped: boolean }> {
  const results = new Map<string, StepResult>();
  let stoppedBy: StepResult | undefined;
  for (const step of run.plan.steps) {
    let result: StepResult;
    if (stoppedBy !== undefined) {
      result = { ...base(step), status: 'skipped', reason: `not run: step ${stoppedBy.id} ${stoppedBy.status} and the chain stops on failure` };
    } else {
      const unmet = step.when === undefined ? undefined : unmetCondition(step.when, results.get(step.when.step));
      result = unmet === undefined ? await runStep(run, step) : { ...base(step), status: 'skipped', reason: unmet };
    }
    results.set(step.id, run.report(result));
    if (stopOnFailure && stoppedBy === undefined && UNSUCCESSFUL.has(result.status)) stoppedBy = result;
  }
  return { steps: [...results.values()], stopped: stoppedBy !== undefined };
}

/** Why a conditional step does not run; undefined when its condition holds. */
function unmetCondition(when: NonNullable<PlannedStep['when']>, ran: StepResult | undefined): string | undefined {
  const wanted: StepStatus = when.status === 'success' ? 'ok' : 'failed';
  if (ran?.status === wanted) return undefined;
  const outcome = ran === undefined ? 'did not run' : ran.status === 'ok' || ran.status === 'failed' ? `ended ${ran.status}` : `was ${ran.status}, so it did not run to an end`;
  return `runs only when step ${when.step} ends in ${when.status}; it ${outcome}`;
}

/** Parallel chains: all steps, at most `concurrency` at a time, results in plan order. */
async function runParallel(run: Run, concurrency: number): Promise<StepResult[]> {
  const steps = run.plan.steps;
  const results: StepResult[] = new Array<StepResult>(steps.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < steps.length) {
      const index = next++;
      results[index] = run.report(await runStep(run, steps[index]!));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, steps.length) }, worker));
  return results;
}

/**
 * Pipeline chains go to ctx.exec.runPipeline: the executor joins each stage's stdout
 * to the next one's stdin with OS socket pairs, so bytes stream between the programs
 * as in a shell pipeline (`head` can stop `sort` early, nothing is held in memory or
 * cut by an output cap in between) and each stage is judged by the policy. The cost
 * is that the executor reports only the last stage's exit status and one stderr for
 * all stages: the earlier steps share the pipeline's status, and say so.
 */
async function runPipelineChain(run: Run): Promise<StepResult[]> {
  const { ctx, plan } = run;
  const checks: (StepResult | undefined)[] = [];
  for (const step of plan.steps) checks.push(ctx.signal.aborted ? cancelledBeforeStart(step) : await preflight(run, step));
  const blocker = checks.find((check) => check !== undefined);
  if (blocker !== undefined) {
    return plan.steps.map((step, index) =>
      run.report(checks[index] ?? { ...base(step), status: 'skipped', reason: `the pipeline did not start: step ${blocker.id} was ${blocker.status}` }),
    );
  }
  let result: CommandRun;
  try {
    result = await ctx.exec.runPipeline(
      plan.steps.map((step) => step.argv),
      runOptions(run, pipelineTimeout(plan.steps)),
    );
  } catch (error) {
    return plan.steps.map((step) => run.report(fromError(step, error)));
  }
  const last = plan.steps.length - 1;
  const final = finished(run, plan.steps[last]!, result);
  return plan.steps.map((step, index) => {
    if (index === last) return run.report(final);
    const { status, durationMs } = final;
    const reason = `stage ${index + 1} of ${plan.steps.length}: its output went to step ${plan.steps[index + 1]!.id}; a pipeline reports only its last stage's exit status`;
    return run.report({ ...base(step), status, durationMs: durationMs ?? result.durationMs, reason });
  });
}

/** Stages run side by side, so the pipeline may take as long as its slowest stage; the profile's limit when any stage has none. */
function pipelineTimeout(steps: readonly PlannedStep[]): number | undefined {
  const limits = steps.map((step) => step.timeoutMs);
  return limits.every((ms): ms is number => ms !== undefined) ? Math.max(...limits) : undefined;
}

async function runStep(run: Run, step: PlannedStep): Promise<StepResult> {
  if (run.ctx.signal.aborted) return cancelledBeforeStart(step);
  const blocked = await preflight(run, step);
  if (blocked !== undefined) return blocked;
  try {
    return finished(run, step, await run.ctx.exec.run({ argv: step.argv }, runOptions(run, step.timeoutMs)));
  } catch (error) {
    return fromError(step, error);
  }
}

/**
 * What stops a step before it starts: a missing program (checked first, since the
 * policy would only say "not found") or the policy's final refusal. The executor
 * judges again when it runs; judging here is what names a refusal per step, and
 * what keeps a pipeline from starting when one of its stages would be refused.
 */
async function preflight(run: Run, step: PlannedStep): Promise<StepResult | undefined> {
  const command = run.lookup(step.command);
  if (command === undefined) return { ...base(step), status: 'error', reason: `unknown BashGod command ${JSON.stringify(step.command)}` };
  const missing = missingExecutables(command);
  if (missing.length > 0) return { ...base(step), status: 'missing', reason: missingMessage(missing) };
  try {
    const { decision } = await run.ctx.exec.judge({ argv: step.argv }, run.cwd);
    // A refusal the profile marks `ask` is not final: ctx.exec asks a person when it
    // runs the step, and a refusal there still ends up as `denied` (fromError).
    if (!decision.allowed && decision.ask !== true) return { ...base(step), status: 'denied', rule: decision.rule, reason: decision.reason };
  } catch (error) {
    return fromError(step, error);
  }
  return undefined;
}

function runOptions(run: Run, timeoutMs: number | undefined): CommandRunOptions {
  // No maxOutputBytes here: the executor's cap covers stdout and stderr together, so a
  // chatty stdout would crowd stderr out; the profile's cap bounds memory, and each
  // stream is cut to maxStreamBytes afterwards.
  return { ...run.cwd, ...(timeoutMs === undefined ? {} : { timeoutMs }), signal: run.ctx.signal };
}

function base(step: PlannedStep): Pick<StepResult, 'id' | 'command' | 'argv'> {
  return { id: step.id, command: step.command, argv: [...step.argv] };
}

function cancelledBeforeStart(step: PlannedStep): StepResult {
  return { ...base(step), status: 'cancelled', reason: 'the call was cancelled before this step started' };
}

function finished(run: Run, step: PlannedStep, result: CommandRun): StepResult {
  const stdout = capStream(result.stdout, run.maxStreamBytes);
  const stderr = capStream(result.stderr, run.maxStreamBytes);
  const outcome = (): Pick<StepResult, 'status' | 'reason'> => {
    if (result.aborted) return { status: 'cancelled', reason: 'the call was cancelled while this step ran; it was stopped' };
    if (result.timedOut) return { status: 'failed', reason: `timed out after ${result.durationMs} ms` };
    if (result.signal !== null) return { status: 'failed', reason: `killed by ${result.signal}` };
    if (result.exitCode !== 0) return { status: 'failed', reason: `exit code ${result.exitCode}` };
    return { status: 'ok' };
  };
  return {
    ...base(step),
    ...outcome(),
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: stdout.text,
    stderr: stderr.text,
    truncated: result.truncated || stdout.truncated || stderr.truncated,
    timedOut: result.timedOut,
    durationMs: Math.round(result.durationMs),
  };
}

/** A step whose launch threw: a policy refusal, a full process budget, a cancellation. */
function fromError(step: PlannedStep, error: unknown): StepResult {
  if (error instanceof PolicyDeniedError) return { ...base(step), status: 'denied', rule: error.rule, reason: error.message };
  if (error instanceof IronError && error.kind === 'cancelled') return { ...base(step), status: 'cancelled', reason: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { ...base(step), status: 'error', reason: error instanceof IronError ? `${error.code}: ${message}` : message };
}

/** Keeps the first `maxBytes` of a stream, cut on a UTF-8 character boundary, with a marker. */
export function capStream(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return { text, truncated: false };
  const bytes = Buffer.from(text, 'utf8');
  let cut = maxBytes;
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return { text: `${bytes.subarray(0, cut).toString('utf8')}\n[ironcode: step output cut at ${maxBytes} bytes; ${bytes.length - cut} more bytes dropped]\n`, truncated: true };
}

/**
 * ok: nothing went wrong · cancelled: the call was cancelled before every step ended ·
 * failed: a stop-on-failure chain stopped, a pipeline (one unit) failed, or no step
 * succeeded · partial: some steps succeeded and some did not. A conditional chain's
 * test step ending in failure is a branch taken, not a failure.
 */
function chainStatus(plan: ChainPlan, steps: readonly StepResult[], stopped: boolean): ChainStatus {
  if (steps.some((step) => step.status === 'cancelled')) return 'cancelled';
  const tests = new Set(plan.steps.flatMap((step) => (step.when === undefined ? [] : [step.when.step])));
  const unsuccessful = steps.filter((step) => UNSUCCESSFUL.has(step.status) && !(step.status === 'failed' && tests.has(step.id)));
  if (unsuccessful.length === 0) return 'ok';
  if (stopped || plan.mode === 'pipeline' || !steps.some((step) => step.status === 'ok')) return 'failed';
  return 'partial';
}
