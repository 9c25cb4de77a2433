/**
 * Admission to the tool plane: a token bucket and a concurrency cap per principal and
 * per tool, and a circuit breaker per tool (cockatiel). A refused call fails at once
 * with the limit it hit and when to retry; nothing queues invisibly.
 *
 * The breaker counts only failures of the tool itself (internal, upstream,
 * unavailable, timeout): a caller's bad input or a policy refusal says nothing about
 * the tool's health and must not let one caller switch a tool off for everyone.
 */
import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { IronError, UnavailableError, isIronError, type Clock } from '../core/index.js';

export interface AdmissionLimits {
  perPrincipal: { ratePerSecond: number; burst: number; concurrency: number };
  perTool: { ratePerSecond: number; burst: number; concurrency: number };
  breaker: { consecutiveFailures: number; halfOpenAfterSeconds: number };
}

export interface Admission {
  /** Takes a slot for the call or throws (rateLimited / unavailable); `release` when the call ends. */
  admit(principalId: string, toolId: string): { release(): void };
  /** Runs the handler under the tool's breaker; a broken circuit throws UnavailableError. */
  guard<T>(toolId: string, run: () => Promise<T>): Promise<T>;
}

const TOOL_FAULTS = new Set(['internal', 'upstream', 'unavailable', 'timeout']);

/** Whether an error is the tool's own failure rather than the caller's or the policy's. */
export function isToolFault(error: unknown): boolean {
  return !isIronError(error) || TOOL_FAULTS.has(error.kind);
}

interface Bucket {
  tokens: number;
  at: number;
  inFlight: number;
}

export function createAdmission(limits: AdmissionLimits, clock: Pick<Clock, 'now'> = { now: () => Date.now() }): Admission {
  const principals = new Map<string, Bucket>();
  const tools = new Map<string, Bucket>();
  const breakers = new Map<string, CircuitBreakerPolicy>();

  const bucket = (map: Map<string, Bucket>, key: string, burst: number): Bucket => {
    let found = map.get(key);
    if (found === undefined) {
      found = { tokens: burst, at: clock.now(), inFlight: 0 };
      map.set(key, found);
    }
    return found;
  };

  const refill = (b: Bucket, rate: number, burst: number, now: number): void => {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
  };

  const refuse = (scope: string, limit: { ratePerSecond: number; concurrency: number }, b: Bucket, rate: number): never => {
    if (b.inFlight >= limit.concurrency) {
      throw new IronError('rateLimited', `${scope} already has ${b.inFlight} tool calls running (limit ${limit.concurrency}); wait for one to finish`, {
        details: { scope, concurrency: limit.concurrency },
      });
    }
    const retryAfterMs = Math.ceil(((1 - b.tokens) / rate) * 1000);
    throw new IronError('rateLimited', `${scope} is over its limit of ${limit.ratePerSecond} tool calls per second; retry in ${retryAfterMs} ms`, {
      details: { scope, ratePerSecond: limit.ratePerSecond, retryAfterMs },
    });
  };

  const forgetIdle = (map: Map<string, Bucket>, burst: number): void => {
    // A full, idle bucket carries no information: drop it so the maps do not grow with every caller ever seen.
    if (map.size < 10_000) return;
    for (const [key, b] of map) if (b.inFlight === 0 && b.tokens >= burst) map.delete(key);
  };

  return {
    admit(principalId, toolId) {
      const now = clock.now();
      const { perPrincipal, perTool } = limits;
      const p = bucket(principals, principalId, perPrincipal.burst);
      const t = bucket(tools, toolId, perTool.burst);
      refill(p, perPrincipal.ratePerSecond, perPrincipal.burst, now);
      refill(t, perTool.ratePerSecond, perTool.burst, now);
      if (p.tokens < 1 || p.inFlight >= perPrincipal.concurrency) refuse(`principal ${principalId}`, perPrincipal, p, perPrincipal.ratePerSecond);
      if (t.tokens < 1 || t.inFlight >= perTool.concurrency) refuse(`tool ${toolId}`, perTool, t, perTool.ratePerSecond);
      p.tokens -= 1;
      t.tokens -= 1;
      p.inFlight += 1;
      t.inFlight += 1;
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          p.inFlight -= 1;
          t.inFlight -= 1;
          forgetIdle(principals, perPrincipal.burst);
        },
      };
    },
    async guard(toolId, run) {
      let breaker = breakers.get(toolId);
      if (breaker === undefined) {
        breaker = circuitBreaker(handleWhen(isToolFault), {
          halfOpenAfter: limits.breaker.halfOpenAfterSeconds * 1000,
          breaker: new ConsecutiveBreaker(limits.breaker.consecutiveFailures),
        });
        breakers.set(toolId, breaker);
      }
      try {
        return await breaker.execute(run);
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          throw new UnavailableError(
            `${toolId} is switched off for ${limits.breaker.halfOpenAfterSeconds} s after ${limits.breaker.consecutiveFailures} failures in a row; it is tried again after that`,
            { details: { tool: toolId, breaker: 'open' } },
          );
        }
        throw error;
      }
    },
  };
}
