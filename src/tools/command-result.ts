import { z } from 'zod';
import type { RunResult } from '../exec/index.js';

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

/** Those fields of a finished run, durations in whole milliseconds. */
export function commandResultOf(result: RunResult): { [K in keyof typeof commandResultFields]: z.output<(typeof commandResultFields)[K]> } {
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    truncated: result.truncated,
    timedOut: result.timedOut,
    durationMs: Math.round(result.durationMs),
  };
}
