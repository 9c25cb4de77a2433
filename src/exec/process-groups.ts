/**
 * The process groups of one script. Every stage is spawned `detached`, so it leads
 * its own group and a signal to `-pid` reaches everything it forked (unless that
 * called setsid; the sandbox's PID namespace closes that gap).
 */
export interface ProcessGroups {
  readonly terminated: boolean;
  /** A freshly spawned leader; killed at once if the script is already terminating. */
  add(pid: number): void;
  /** The leader exited: whatever it left behind in its group goes with it. */
  exited(pid: number): void;
  /** SIGTERM to every group now, SIGKILL to the survivors after `graceMs`. */
  terminate(): void;
  /** SIGKILL to every group at once, for failures that leave no time for grace. */
  killAll(): void;
  close(): void;
}

export function createProcessGroups(graceMs: number): ProcessGroups {
  const live = new Set<number>();
  let terminated = false;
  let closed = false;
  let escalation: NodeJS.Timeout | undefined;

  return {
    get terminated() {
      return terminated;
    },
    add(pid) {
      if (terminated) {
        signalGroup(pid, 'SIGKILL');
        return;
      }
      live.add(pid);
    },
    exited(pid) {
      live.delete(pid);
      signalGroup(pid, 'SIGKILL');
    },
    terminate() {
      if (terminated) return;
      terminated = true;
      // Nothing left to escalate against: no timer to outlive the script.
      if (closed || live.size === 0) return;
      for (const pid of live) signalGroup(pid, 'SIGTERM');
      escalation = setTimeout(() => {
        for (const pid of live) signalGroup(pid, 'SIGKILL');
      }, graceMs);
      escalation.unref();
    },
    killAll() {
      terminated = true;
      for (const pid of live) signalGroup(pid, 'SIGKILL');
    },
    close() {
      closed = true;
      clearTimeout(escalation);
    },
  };
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is the goal.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
