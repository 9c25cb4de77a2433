import type { Logger } from '../core/index.js';
import { createGuardedFetch, type GuardedFetch } from '../exec/index.js';
import type { Decision, Policy, Profile } from '../policy/index.js';
import type { ApprovalAction, Approvals } from './approvals.js';
import { createExecEnvironment, type ExecEnvironment, type GuardedExec } from './capabilities/guarded-exec.js';
import { createGuardedFs, type GuardedFs } from './capabilities/guarded-fs.js';
import type { ToolContext } from './context.js';
import type { ContextFactory } from './invoke.js';

export interface ToolEnvironmentOptions {
  policy: Policy;
  profile: Profile;
  /** ironcode's data directory, hidden from commands and refused to every path operation. */
  dataDir: string;
  logger: Logger;
  sessions?: { ttlMs?: number; maxSessions?: number; maxLifetimeMs?: number };
  /** Where approvable refusals (`ask` rules) go; without it they are final. */
  approvals?: Approvals;
}

/** The capabilities every call's ToolContext is made from, shared by the whole process. */
export interface ToolEnvironment extends ContextFactory {
  readonly policy: Policy;
  readonly profile: Profile;
  /** Stops every process session and closes network connections. */
  close(): Promise<void>;
}

export async function createToolEnvironment(options: ToolEnvironmentOptions): Promise<ToolEnvironment> {
  const { policy, profile, logger } = options;
  const maxFileBytes = profile.exec.limits.maxFileBytes;
  const fs: GuardedFs = createGuardedFs({ policy, maxFileBytes });
  const { approvals } = options;

  const exec: ExecEnvironment = await createExecEnvironment({
    policy,
    profile,
    dataDir: options.dataDir,
    warn: (message) => logger.warn(message),
    ...(options.sessions === undefined ? {} : { sessions: options.sessions }),
  });
  const net: GuardedFetch = createGuardedFetch({ rules: profile.network });

  return {
    policy,
    profile,
    contextFor(call): ToolContext {
      if (approvals === undefined || profile.ask.length === 0) return contextWith(call, fs, exec.forPrincipal(call.principal.id));
      const onAsk = (decision: Decision, action: ApprovalAction) => approvals.require(call.principal, call.tool, action, decision);
      return contextWith(call, createGuardedFs({ policy, maxFileBytes, onAsk }), exec.forPrincipal(call.principal.id, onAsk));
    },
    async close() {
      await Promise.all([exec.close(), net.close()]);
    },
  };

  function contextWith(call: Parameters<ContextFactory['contextFor']>[0], callFs: GuardedFs, callExec: GuardedExec): ToolContext {
    return {
      principal: call.principal,
      signal: call.signal,
      callId: call.callId,
      log: call.log,
      progress: call.progress,
      authorize: call.authorize,
      fs: callFs,
      exec: callExec,
      net: { fetch: (url, init) => net.fetch(url, { ...init, signal: init?.signal ?? call.signal }) },
    };
  }
}
