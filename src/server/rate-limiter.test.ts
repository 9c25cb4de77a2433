import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../../test/support/postgres.js';
import { memoryRateLimiter, redisRateLimiter } from './rate-limiter.js';
import type { RateLimiter } from './rate-limiter.js';

let now = 1_000_000;
const clock = { now: () => now };
const redis = new Redis(redisUrl(), { lazyConnect: true });
afterAll(async () => {
  await redis.quit();
});

describe.each([
  ['memory', () => memoryRateLimiter(clock)],
  ['redis', () => redisRateLimiter(redis, `ironcode:test:${process.pid}:${Math.random()}:`)],
] as const)('%s rate limiter', (_name, make: () => RateLimiter) => {
  it('lets `limit` requests through per window, refuses the next, and marks only the first refusal', async () => {
    const limiter = make();
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await limiter.hit('k', 3, 60_000));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0, 0]);
    expect(decisions.map((d) => d.firstRefusal)).toEqual([false, false, false, true, false]);
    expect(decisions[4]?.resetMs).toBeGreaterThan(0);
    expect(decisions[4]?.resetMs).toBeLessThanOrEqual(60_000);
  });

  it('counts keys separately', async () => {
    const limiter = make();
    await limiter.hit('a', 1, 60_000);
    expect((await limiter.hit('a', 1, 60_000)).allowed).toBe(false);
    expect((await limiter.hit('b', 1, 60_000)).allowed).toBe(true);
  });
});

describe('window reset', () => {
  it('memory: a new window starts after windowMs', async () => {
    const limiter = memoryRateLimiter(clock);
    await limiter.hit('w', 1, 1000);
    expect((await limiter.hit('w', 1, 1000)).allowed).toBe(false);
    now += 1001;
    expect((await limiter.hit('w', 1, 1000)).allowed).toBe(true);
  });

  it('redis: the counter expires with the window', async () => {
    const limiter = redisRateLimiter(redis, `ironcode:test:${process.pid}:reset:`);
    await limiter.hit('w', 1, 200);
    expect((await limiter.hit('w', 1, 200)).allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await limiter.hit('w', 1, 200)).allowed).toBe(true);
  });
});
