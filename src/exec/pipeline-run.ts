import type { Pipeline } from '../policy/index.js';
import { shellStatus, type ExitStatus } from './exit-status.js';
import type { SocketPair } from './socket-pair.js';
import { launchStage, type Endpoint, type LaunchedStage, type StageContext } from './stage-launch.js';

/** The script-wide ends every pipeline starts from. */
export interface ScriptEndpoints {
  stdin: Endpoint;
  stdout: Endpoint;
  stderr: Endpoint;
}

/**
 * Runs the stages of a pipeline concurrently, each stage's stdout joined to the next
 * one's stdin by an OS socket pair the two children share (no byte passes through
 * this process). The status is the last stage's, inverted for `!`.
 */
export async function runPipeline(pipeline: Pipeline, ctx: StageContext, ends: ScriptEndpoints): Promise<ExitStatus> {
  const links: SocketPair[] = [];
  for (let index = 1; index < pipeline.stages.length; index += 1) links.push(await ctx.pairs.create());
  const launched: LaunchedStage[] = [];
  try {
    for (const [index, stage] of pipeline.stages.entries()) {
      const before = links[index - 1];
      const after = links[index];
      const defaults = new Map<number, Endpoint>([
        [0, before === undefined ? ends.stdin : { kind: 'socket', socket: before.theirs }],
        [1, after === undefined ? ends.stdout : { kind: 'socket', socket: after.ours }],
        [2, ends.stderr],
      ]);
      launched.push(await launchStage(stage, defaults, ctx));
    }
  } finally {
    // Only the children may hold the links now: a reader's exit must reach the writer
    // as EPIPE/SIGPIPE, and a writer's exit the reader as end of file.
    for (const link of links) {
      link.ours.destroy();
      link.theirs.destroy();
    }
  }
  const statuses = await Promise.all(launched.map((stage) => stage.exited));
  const last = statuses.at(-1) ?? { code: 0, signal: null };
  if (!pipeline.negated) return last;
  return { code: shellStatus(last) === 0 ? 1 : 0, signal: null };
}
