import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Starts the real PostgreSQL and Redis servers the tests use (see the file).
    globalSetup: ['./test/support/services.ts'],
  },
});
