import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { visibleInSandbox, type SandboxPlan } from './sandbox.js';

/** Why a stage cannot start, with the shell's status for it. */
export interface LaunchProblem {
  status: 126 | 127;
  message: string;
}

/**
 * Checked before spawning because behind prlimit or bwrap a missing program would
 * surface as the wrapper's own error text and status.
 */
export async function executableProblem(path: string, sandbox: SandboxPlan | null): Promise<LaunchProblem | null> {
  const info = await stat(path).catch(() => null);
  if (info === null) return { status: 127, message: `ironcode: ${path}: command not found\n` };
  if (info.isDirectory()) return { status: 126, message: `ironcode: ${path}: is a directory\n` };
  const runnable = await access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
  if (!runnable) return { status: 126, message: `ironcode: ${path}: permission denied\n` };
  if (sandbox !== null && !visibleInSandbox(sandbox, await realpath(path))) {
    return { status: 127, message: `ironcode: ${path}: command not found inside the sandbox (it only sees system directories and the workspace)\n` };
  }
  return null;
}
