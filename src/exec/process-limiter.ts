import { UnavailableError } from '../core/index.js';

/** A held share of a caller's process budget. Releasing twice is harmless. */
export interface ProcessSlot {
  release(): void;
}

export interface ProcessLimiter {
  /** Takes `count` processes of `callerId`'s budget or throws UnavailableError. */
  acquire(callerId: string, count?: number): ProcessSlot;
  inUse(callerId: string): number;
}

/** Caps how many processes (commands, sessions) one caller runs at the same time. */
export function createProcessLimiter(maxProcesses: number): ProcessLimiter {
  if (!Number.isInteger(maxProcesses) || maxProcesses < 1) {
    throw new RangeError(`maxProcesses must be a positive integer, got ${maxProcesses}`);
  }
  const used = new Map<string, number>();
  const inUse = (callerId: string): number => used.get(callerId) ?? 0;

  return {
    inUse,
    acquire(callerId, count = 1) {
      const current = inUse(callerId);
      if (current + count > maxProcesses) {
        throw new UnavailableError(
          `"${callerId}" already has ${current} of ${maxProcesses} processes running; wait for one to finish or kill a session`,
          { details: { callerId, running: current, limit: maxProcesses } },
        );
      }
      used.set(callerId, current + count);
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          const left = inUse(callerId) - count;
          if (left > 0) used.set(callerId, left);
          else used.delete(callerId);
        },
      };
    },
  };
}
