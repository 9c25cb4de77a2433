import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { SAFE_PATH } from '../../policy/index.js';
import type { CommandSpec } from './catalogue-schema.js';

/**
 * Which of a command's required executables this machine lacks. The default search
 * path is the policy's fixed one, because that is where the executor will look:
 * a program found only on the caller's own PATH would not run.
 */
export function missingExecutables(command: Pick<CommandSpec, 'requires'>, options: { path?: string } = {}): string[] {
  const dirs = (options.path ?? SAFE_PATH.join(path.delimiter)).split(path.delimiter).filter((dir) => dir !== '');
  return command.requires.filter((name) => !dirs.some((dir) => isExecutableFile(path.join(dir, name))));
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
