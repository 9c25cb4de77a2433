import { isAbsolute } from 'node:path';
import { ValidationError } from '../core/index.js';
import type { Script } from '../policy/index.js';
import { MAX_REDIRECT_FD } from './redirect-table.js';
import { within, type SandboxPlan } from './sandbox.js';

type Issue = { path: string; message: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The executor's own preconditions, checked before anything starts so a bad script
 * never half-runs. The policy layer should already guarantee them; this is the
 * second lock, not the judgement.
 */
export function validateRun(script: Script, cwd: string, roots: readonly string[], sandbox: SandboxPlan | null): void {
  const issues: Issue[] = [];
  if (!isAbsolute(cwd)) issues.push({ path: 'cwd', message: 'must be an absolute path' });
  else if (!roots.some((root) => isAbsolute(root) && within(root, cwd))) {
    issues.push({ path: 'cwd', message: `"${cwd}" is not inside a workspace root` });
  } else if (sandbox !== null && !sandbox.writableRoots.some((root) => within(root, cwd))) {
    issues.push({ path: 'cwd', message: `"${cwd}" is not inside a root bound into the sandbox` });
  }
  script.items.forEach((item, i) => {
    if (item.pipeline.stages.length === 0) issues.push({ path: `items.${i}.pipeline.stages`, message: 'empty pipeline' });
    item.pipeline.stages.forEach((stage, j) => {
      const at = `items.${i}.pipeline.stages.${j}`;
      const [program] = stage.argv;
      if (program === undefined || !isAbsolute(program)) issues.push({ path: `${at}.argv.0`, message: 'must be an absolute path to the executable' });
      if (stage.argv.some((word) => word.includes('\0'))) issues.push({ path: `${at}.argv`, message: 'contains a NUL byte' });
      for (const [name, value] of Object.entries(stage.env)) {
        if (!ENV_NAME.test(name) || value.includes('\0')) issues.push({ path: `${at}.env.${name}`, message: 'invalid variable' });
      }
      stage.redirects.forEach((redirect, k) => {
        const fds = redirect.kind === 'dup' ? [redirect.fd, redirect.target] : [redirect.fd];
        if (fds.some((fd) => !Number.isInteger(fd) || fd < 0 || fd > MAX_REDIRECT_FD)) {
          issues.push({ path: `${at}.redirects.${k}.fd`, message: `descriptor must be 0-${MAX_REDIRECT_FD}` });
        }
      });
    });
  });
  if (issues.length > 0) throw new ValidationError(`cannot run the script: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, issues);
}
