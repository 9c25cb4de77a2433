import type { Redis } from 'ioredis';
import type { RevocationMirror } from './context.js';

const KEY_PREFIX = 'ironcode:revoked-session:';

/**
 * Ended sessions mirrored in Redis with the refresh lifetime as TTL, so instances
 * sharing one Redis see a logout at once. The store stays the authority: a Redis
 * error never turns a revoked session back on, because the store is read too.
 */
export function redisRevocations(redis: Redis): RevocationMirror {
  return {
    async revoke(sessionId, ttlSeconds) {
      await redis.set(KEY_PREFIX + sessionId, '1', 'EX', ttlSeconds);
    },
    async isRevoked(sessionId) {
      try {
        return (await redis.exists(KEY_PREFIX + sessionId)) === 1;
      } catch {
        return false;
      }
    },
  };
}
