export { buildServer } from './app.js';
export type { ServerDeps } from './deps.js';
export { memoryRateLimiter, redisRateLimiter } from './rate-limiter.js';
export type { RateLimiter, RateDecision } from './rate-limiter.js';
