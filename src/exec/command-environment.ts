import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultEnvironment } from './child-env.js';
import { SANDBOX_HOME, type SandboxPlan } from './sandbox.js';

export interface CommandEnvironment {
  env: Record<string, string>;
  /** Host directory mounted as /tmp in every sandboxed stage of the run. */
  sandboxTmp: string | null;
  /** Removes what the run was given: its HOME or sandbox /tmp. */
  release(): Promise<void>;
}

/**
 * Scratch space that lives exactly as long as one run (or session). Unsandboxed, a
 * fresh HOME so dotfiles neither persist nor land in /root. Sandboxed, one private
 * /tmp (with HOME inside) shared by all stages, so `a >/tmp/x; b </tmp/x` style
 * hand-offs between the stages' separate sandboxes work, yet never touch host /tmp.
 */
export async function commandEnvironment(base: Record<string, string> | undefined, sandbox: SandboxPlan | null): Promise<CommandEnvironment> {
  const scratch = await mkdtemp(join(tmpdir(), sandbox === null ? 'ironcode-home-' : 'ironcode-tmp-'));
  const release = () => rm(scratch, { recursive: true, force: true });
  if (sandbox === null) return { env: base === undefined ? defaultEnvironment(scratch) : { ...base }, sandboxTmp: null, release };
  await mkdir(join(scratch, SANDBOX_HOME.slice('/tmp/'.length)));
  return { env: base === undefined ? defaultEnvironment(SANDBOX_HOME) : { ...base }, sandboxTmp: scratch, release };
}
