import { z } from 'zod';

/**
 * Execution limits and sandbox modes. They live in core because both the config
 * file (overrides) and the safety profiles (defaults) carry them.
 */
export const sandboxModes = ['required', 'preferred', 'off'] as const;
export type SandboxMode = (typeof sandboxModes)[number];

export const execLimitsSchema = z.strictObject({
  /** Wall-clock limit per command; the whole process group is killed after it. */
  timeoutMs: z.number().int().min(100).max(24 * 3600 * 1000),
  /** Bytes of stdout+stderr kept per command; the rest is cut with a marker. */
  maxOutputBytes: z.number().int().min(1024).max(1024 * 1024 * 1024),
  /** Largest file a command may write (RLIMIT_FSIZE). */
  maxFileBytes: z.number().int().min(1024),
  /** Concurrent processes one caller may have running. */
  maxProcesses: z.number().int().min(1).max(1024),
});
export type ExecLimits = z.infer<typeof execLimitsSchema>;
