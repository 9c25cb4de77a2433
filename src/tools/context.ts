import type { Logger } from '../core/index.js';
import type { GuardedFetchInit, GuardedResponse } from '../exec/index.js';
import type { Principal } from '../identity/index.js';
import type { GuardedExec } from './capabilities/guarded-exec.js';
import type { GuardedFs } from './capabilities/guarded-fs.js';

/**
 * What a handler gets to act with. It never touches `fs`, `child_process` or the
 * network itself: these capabilities enforce the safety policy on every use, so a
 * new tool is safe by construction.
 */
export interface ToolContext {
  /** Who is calling (already authorised for this tool). */
  readonly principal: Principal;
  /** Fires when the caller cancels, the transport closes or the server shuts down. */
  readonly signal: AbortSignal;
  /** This call's id, as recorded in the audit log. */
  readonly callId: string;
  readonly log: Logger;
  readonly fs: GuardedFs;
  readonly exec: GuardedExec;
  readonly net: { fetch(url: string, init?: GuardedFetchInit): Promise<GuardedResponse> };
  /**
   * A finer permission check inside a tool (a BashGod command's own risk, an agent's
   * task): throws ForbiddenError naming the permission when the principal lacks it.
   */
  authorize(permission: string): void;
  /** Progress of long work; forwarded to the caller when it asked for progress. */
  progress(progress: number, total?: number, message?: string): void;
}
