import type { Logger } from '../core/index.js';
import { createGuardedFetch, type GuardedFetch } from '../exec/index.js';
import type { Policy, Profile } from '../policy/index.js';
import { createExecEnvironment, type ExecEnvironment } from './capabilities/guarded-exec.js';
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
  const fs: GuardedFs = createGuardedFs({ policy, maxFileBytes: profile.exec.limits.maxFileBytes });
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
      return {
        principal: call.principal,
        signal: call.signal,
        callId: call.callId,
        log: call.log,
        progress: call.progress,
        authorize: call.authorize,
        fs,
        exec: exec.forPrincipal(call.principal.id),
        net: { fetch: (url, init) => net.fetch(url, { ...init, signal: init?.signal ?? call.signal }) },
      };
    },
    async close() {
      await Promise.all([exec.close(), net.close()]);
    },
  };
}
