/**
 * The one invoke pipeline (T1). Every caller — MCP over stdio or HTTP, REST, an
 * agent, a workflow step, a BashGod chain — calls tools through `invoke`:
 *
 *   find → authorize (RBAC) → parse input (strict) → admit (rate, concurrency)
 *   → run the handler under the tool's breaker with a ToolContext → validate output
 *   → audit and metrics, for refusals and failures exactly as for successes.
 *
 * Authorisation comes before parsing, so a caller learns nothing about a tool it may
 * not use, not even what input it takes.
 *
 * The audit log: a read tool's call is one record, written after it ran and before
 * its result is returned. A tool that changes something (write, execute, admin) is
 * recorded before it runs (`tool.call`) and again when it ends (`tool.result`), so a
 * crash in the middle still leaves the attempt in the log.
 */
import type { z } from 'zod';
import { ForbiddenError, IronError, ValidationError, newId, toIronError, type Logger } from '../core/index.js';
import type { AuditSink, Principal, Rbac } from '../identity/index.js';
import type { Admission } from './admission.js';
import type { ToolContext } from './context.js';
import type { ToolRegistry } from './registry.js';
import type { AnyTool } from './tool.js';

export interface ProgressUpdate {
  progress: number;
  total?: number;
  message?: string;
}

export interface InvokeOptions {
  signal?: AbortSignal;
  onProgress?: (update: ProgressUpdate) => void;
  /** Where the call came from, for the audit log. */
  ip?: string;
  /** The transport or caller: mcp-stdio, mcp-http, rest, agent … */
  via?: string;
}

export interface InvokeResult {
  callId: string;
  tool: AnyTool;
  output: unknown;
  durationMs: number;
}

export type CallOutcome = 'ok' | 'invalid' | 'forbidden' | 'denied' | 'limited' | 'cancelled' | 'failed';

export interface ToolMetrics {
  observe(toolId: string, outcome: CallOutcome, seconds: number): void;
}

/** Makes the capabilities a call acts with; see environment.ts. */
export interface ContextFactory {
  contextFor(call: { principal: Principal; tool: string; signal: AbortSignal; callId: string; log: Logger; progress: ToolContext['progress']; authorize: ToolContext['authorize'] }): ToolContext;
}

export interface InvokerOptions {
  registry: ToolRegistry;
  rbac: Rbac;
  audit: AuditSink;
  admission: Admission;
  contexts: ContextFactory;
  logger: Logger;
  metrics?: ToolMetrics;
}

export interface Invoker {
  readonly registry: ToolRegistry;
  invoke(principal: Principal, toolName: string, input: unknown, options?: InvokeOptions): Promise<InvokeResult>;
  /** The tools this principal may call: what tools/list shows it. */
  visibleTools(principal: Principal): AnyTool[];
  /** Whether the principal may call the tool. */
  mayCall(principal: Principal, tool: AnyTool): boolean;
}

/** How each outcome shows in the audit log's decision column. */
const DECISION: Record<CallOutcome, 'allowed' | 'denied' | 'failed'> = {
  ok: 'allowed',
  invalid: 'denied',
  forbidden: 'denied',
  denied: 'denied',
  limited: 'denied',
  cancelled: 'failed',
  failed: 'failed',
};

export function createInvoker(options: InvokerOptions): Invoker {
  const { registry, rbac, audit, admission, contexts, logger, metrics } = options;
  const mayCall = (principal: Principal, tool: AnyTool): boolean => rbac.can(principal, tool.permission);

  const invoke: Invoker['invoke'] = async (principal, toolName, rawInput, invokeOptions = {}) => {
    const callId = newId('call');
    const started = performance.now();
    const actor = { principal: principal.id, principalKind: principal.kind, requestId: callId, ip: invokeOptions.ip };
    const tool = registry.find(toolName);
    const record = (outcome: CallOutcome, event: { action?: string; reason?: string; args?: unknown; result?: unknown }) =>
      audit.append({
        ...actor,
        action: event.action ?? 'tool.call',
        resource: `tool:${tool?.id ?? toolName}`,
        decision: DECISION[outcome],
        reason: event.reason,
        args: event.args,
        result: event.result,
      });
    const finish = async (outcome: CallOutcome, error: IronError, args: unknown, action?: string): Promise<never> => {
      await record(outcome, { reason: reasonOf(error), args, ...(action === undefined ? {} : { action }) });
      metrics?.observe(tool?.id ?? 'unknown', outcome, (performance.now() - started) / 1000);
      throw error;
    };

    if (tool === undefined) {
      return finish('invalid', new IronError('notFound', `there is no tool named ${JSON.stringify(toolName)}`, { details: { tool: toolName } }), rawInput);
    }
    if (!mayCall(principal, tool)) {
      return finish('forbidden', new ForbiddenError(`${principal.name} may not call ${tool.mcpName}: it needs ${tool.permission}`, tool.permission), undefined);
    }
    const parsed = tool.input.safeParse(rawInput ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.') || '(input)', message: issue.message }));
      const detail = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      return finish('invalid', new ValidationError(`invalid input for ${tool.mcpName}: ${detail}`, issues), rawInput);
    }
    const input = parsed.data;

    let slot: { release(): void };
    try {
      slot = admission.admit(principal.id, tool.id);
    } catch (error) {
      return finish('limited', toIronError(error), input);
    }
    const writeAhead = tool.risk !== 'read';
    try {
      if (writeAhead) await record('ok', { args: input });
      const controller = new AbortController();
      const abort = () => controller.abort(invokeOptions.signal?.reason);
      if (invokeOptions.signal?.aborted) abort();
      invokeOptions.signal?.addEventListener('abort', abort, { once: true });
      let output: unknown;
      try {
        const ctx = contexts.contextFor({
          principal,
          tool: tool.id,
          signal: controller.signal,
          callId,
          log: logger,
          authorize: (permission) => rbac.authorize(principal, permission),
          progress: (progress, total, message) =>
            invokeOptions.onProgress?.({ progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) }),
        });
        const raw = await admission.guard(tool.id, () =>
          tool.run(ctx, input).catch((error: unknown) => {
            // Whatever a handler throws once the caller has gone is the cancellation, not a fault of the tool.
            if (controller.signal.aborted) throw new IronError('cancelled', `${tool.mcpName} was cancelled by the caller`, { cause: error });
            throw error;
          }),
        );
        const checked = tool.output.safeParse(raw);
        if (!checked.success) {
          throw new IronError('internal', `${tool.mcpName} produced output that does not match its schema: ${checked.error.issues[0]?.message ?? ''}`);
        }
        output = checked.data;
      } finally {
        invokeOptions.signal?.removeEventListener('abort', abort);
      }
      const result = auditResultOf(tool, output);
      await record('ok', { ...(writeAhead ? { action: 'tool.result' } : { args: input }), result });
      const durationMs = performance.now() - started;
      metrics?.observe(tool.id, 'ok', durationMs / 1000);
      return { callId, tool, output, durationMs };
    } catch (error) {
      const iron = toIronError(error);
      if (iron.kind === 'internal') logger.error({ err: error, tool: tool.id, callId }, 'tool call failed');
      return finish(outcomeOf(iron), iron, writeAhead ? undefined : input, writeAhead ? 'tool.result' : undefined);
    } finally {
      slot.release();
    }
  };

  return {
    registry,
    invoke,
    mayCall,
    visibleTools: (principal) => registry.list().filter((tool) => mayCall(principal, tool)),
  };
}

function outcomeOf(error: IronError): CallOutcome {
  switch (error.kind) {
    case 'policyDenied':
      return 'denied';
    case 'forbidden':
      return 'forbidden';
    case 'validation':
    case 'notFound':
    case 'conflict':
    case 'payloadTooLarge':
      return 'invalid';
    case 'rateLimited':
      return 'limited';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'failed';
  }
}

/** The audit reason: the rule for a policy refusal, so `audit tail` shows which rule fired. */
function reasonOf(error: IronError): string {
  const rule = error.details.rule;
  return typeof rule === 'string' ? `${rule}: ${error.message}` : `${error.code}: ${error.message}`;
}

function auditResultOf(tool: AnyTool, output: unknown): unknown {
  if (tool.auditResult === undefined) return undefined;
  return tool.auditResult(output as z.output<AnyTool['output']>);
}
