import type { Redis } from 'ioredis';
import type { Clock } from '../core/index.js';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
  /** True for the first refusal in a window: the one worth auditing. */
  firstRefusal: boolean;
}

/** Fixed-window counters: `hit` counts one request against `key` and says whether it may pass. */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<RateDecision>;
}

function decide(count: number, limit: number, resetMs: number): RateDecision {
  return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetMs: Math.max(0, resetMs), firstRefusal: count === limit + 1 };
}

/** Counters in this process; expired windows are dropped as the map is used, so no timer runs. */
export function memoryRateLimiter(clock: Clock): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  let nextSweep = 0;
  return {
    hit(key, limit, windowMs) {
      const now = clock.now();
      if (now >= nextSweep) {
        for (const [entryKey, entry] of windows) if (entry.resetAt <= now) windows.delete(entryKey);
        nextSweep = now + windowMs;
      }
      let entry = windows.get(key);
      if (entry === undefined || entry.resetAt <= now) {
        entry = { count: 0, resetAt: now + windowMs };
        windows.set(key, entry);
      }
      entry.count += 1;
      return Promise.resolve(decide(entry.count, limit, entry.resetAt - now));
    },
  };
}

/**
 * Counters in Redis, shared by every instance: INCR, then set the expiry only if the
 * key has none (PEXPIRE NX, Redis 7), in one MULTI so a crash between them cannot
 * leave a counter that never expires.
 */
export function redisRateLimiter(redis: Redis, prefix = 'ironcode:rate:'): RateLimiter {
  return {
    async hit(key, limit, windowMs) {
      const results = await redis.multi().incr(prefix + key).pexpire(prefix + key, windowMs, 'NX').pttl(prefix + key).exec();
      const count = Number(results?.[0]?.[1] ?? 0);
      const ttl = Number(results?.[2]?.[1] ?? windowMs);
      return decide(count, limit, ttl < 0 ? windowMs : ttl);
    },
  };
}
