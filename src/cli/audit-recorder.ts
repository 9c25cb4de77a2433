import { createAuditLog, loadAuditKey } from '../audit/index.js';
import type { Config } from '../core/index.js';
import { cliPrincipal } from '../identity/index.js';
import type { Decision } from '../policy/index.js';
import { openConfiguredStore } from './configured-store.js';

export interface AuditRecorder {
  /** Appends a policy decision and waits until it is durable. */
  recordDecision(decision: Decision, args: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/**
 * The audit log of the configured store, for commands that act outside the server
 * (`ironcode exec`): their policy decisions are recorded like the server's.
 */
export async function openAuditRecorder(config: Config): Promise<AuditRecorder> {
  const { store } = await openConfiguredStore(config);
  try {
    const audit = createAuditLog(store, { key: loadAuditKey(config.dataDir).key, maxBatch: config.audit.maxBatch });
    const principal = cliPrincipal();
    return {
      async recordDecision(decision, args) {
        await audit.append({
          principal: principal.id,
          principalKind: principal.kind,
          action: 'policy.decide',
          resource: 'exec',
          decision: decision.allowed ? 'allowed' : 'denied',
          reason: `${decision.rule}: ${decision.reason}`,
          args,
        });
      },
      async close() {
        await audit.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
