import { realpath } from 'node:fs/promises';
import { PolicyDeniedError } from '../core/index.js';
import { runScript, sandboxPlan, type RunResult } from '../exec/index.js';
import type { Decision } from '../policy/index.js';
import type { Runtime } from './runtime.js';

export interface ExecRequest {
  line?: string;
  argv?: string[];
  cwd?: string;
  timeoutMs?: number;
}

/**
 * `ironcode exec`: judge, then run exactly the judged form under the profile's
 * sandbox and limits. Denials throw PolicyDeniedError (exit 126 at the edge).
 */
export async function execCommand(
  runtime: Runtime,
  request: ExecRequest,
  warn: (message: string) => void,
  /** Records the decision durably before anything runs (the audit log). */
  record: (decision: Decision, cwd: string) => Promise<void>,
): Promise<RunResult> {
  const { policy, profile, config } = runtime;
  const cwd = request.cwd ?? config.roots[0]!;
  const judgement = await policy.judgeCommand(request.line !== undefined ? { line: request.line } : { argv: request.argv ?? [] }, { cwd });
  const { decision } = judgement;
  await record(decision, cwd);
  if (!decision.allowed || !judgement.script) throw new PolicyDeniedError(decision.rule, decision.severity, decision.reason);
  const dataDir = await realpath(config.dataDir).catch(() => config.dataDir);
  const sandbox = await sandboxPlan({
    mode: profile.exec.sandbox,
    network: profile.exec.network,
    roots: policy.roots,
    rootsReadOnly: profile.workspace.write === 'deny',
    hidden: [dataDir],
    warn,
  });
  const limits = request.timeoutMs === undefined ? profile.exec.limits : { ...profile.exec.limits, timeoutMs: Math.min(request.timeoutMs, profile.exec.limits.timeoutMs) };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await runScript(judgement.script, {
      cwd: await realpath(cwd),
      roots: policy.roots,
      limits,
      sandbox,
      stdin: '',
      signal: controller.signal,
      warn,
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
