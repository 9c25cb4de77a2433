import { z } from 'zod';

/** What every tool that runs a command to completion reports (desktop_run_command, bashgod_run). */
export const commandResultFields = {
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  timedOut: z.boolean(),
  durationMs: z.number(),
};
