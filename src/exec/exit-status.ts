import { constants } from 'node:os';

/** How a process ended, as Node reports it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The number a shell would put in `$?`: the code, or 128 + the signal number. */
export function shellStatus(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  const number = status.signal === null ? undefined : constants.signals[status.signal];
  return 128 + (number ?? 0);
}
