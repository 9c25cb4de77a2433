import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { bwrapArgs, type SandboxPlan } from './sandbox.js';

/** What is actually exec'd for one stage: the program, possibly behind wrappers. */
export interface StageCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

/** RLIMIT_FSIZE applied through util-linux prlimit, which sets it and execs the rest of argv. */
export interface FileSizeLimit {
  prlimitPath: string;
  bytes: number;
}

/** The wrappers' own environment: nothing from the command may reach them. */
const LAUNCHER_ENV = { PATH: '/usr/bin:/bin' };

export function stageCommand(
  argv: readonly string[],
  env: Record<string, string>,
  cwd: string,
  sandbox: SandboxPlan | null,
  fileLimit: FileSizeLimit | null,
  sandboxTmp: string | null,
): StageCommand {
  // prlimit sits outside bwrap: the limit is inherited through it, and prlimit then
  // runs with the launcher environment instead of the command's.
  const inner = sandbox === null ? [...argv] : [sandbox.bwrapPath, ...bwrapArgs(sandbox, argv, cwd, env, sandboxTmp ?? undefined)];
  const full = fileLimit === null ? inner : [fileLimit.prlimitPath, `--fsize=${fileLimit.bytes}`, '--', ...inner];
  const [file, ...args] = full as [string, ...string[]];
  return { file, args, env: sandbox === null ? env : LAUNCHER_ENV };
}

let prlimitPath: Promise<string | null> | undefined;

/** The file-size limit for `bytes`, or null when prlimit is not installed. */
export async function fileSizeLimit(bytes: number): Promise<FileSizeLimit | null> {
  prlimitPath ??= findPrlimit();
  const path = await prlimitPath;
  return path === null ? null : { prlimitPath: path, bytes };
}

async function findPrlimit(): Promise<string | null> {
  for (const path of ['/usr/bin/prlimit', '/bin/prlimit']) {
    const found = await access(path, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return path;
  }
  return null;
}
