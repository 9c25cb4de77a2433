import path from 'node:path';
import { judgeArgv, judgeCommandLine, type Judgement } from './command-judge.js';
import type { Action } from './action.js';
import { deny, type Decision } from './decision.js';
import { createHost, type PolicyHost } from './host.js';
import { canonicalPath, decideCanonicalPath, decidePath, isInside, type PathOp } from './paths.js';
import type { Profile } from './profile-schema.js';
import { loadShellParser } from './shell-parse.js';
import { checkUrl } from './url.js';

/**
 * The safety kernel's one entry point: a profile, the workspace roots and a host
 * (the I/O it may do) in; a decision for any action out.
 */
export interface Policy {
  readonly profile: Profile;
  readonly roots: readonly string[];
  decide(action: Action, options?: { cwd?: string }): Promise<Decision>;
  /** A command with everything that hit and the exact form that would run. */
  judgeCommand(command: { line: string } | { argv: readonly string[] }, options?: { cwd?: string }): Promise<Judgement>;
  /**
   * A path decision with the canonical path it was made on, for capabilities that
   * then open exactly that path (absent when the path could not be resolved).
   */
  checkPath(op: PathOp, raw: string, options?: { cwd?: string }): PathCheck;
}

export interface PathCheck {
  decision: Decision;
  path?: string;
}

export interface PolicyOptions {
  profile: Profile;
  /** Workspace roots; made canonical here. */
  roots: readonly string[];
  /**
   * Directories refused to every operation, wherever they are: ironcode's data
   * directory, which may sit inside a root under any name. Made canonical here.
   */
  protectedDirs?: readonly string[];
  host?: PolicyHost;
}

export async function createPolicy(options: PolicyOptions): Promise<Policy> {
  await loadShellParser();
  const host = options.host ?? createHost();
  const roots = options.roots.map((root) => {
    const real = host.realpath(root);
    if (real === null) throw new Error(`workspace root ${root} does not exist`);
    return real;
  });
  if (roots.length === 0) throw new Error('at least one workspace root is needed');
  const { profile } = options;
  const writable = profile.workspace.write === 'allow';
  // A directory that does not exist yet (the data dir before the first command) is guarded by its resolved path.
  const protectedDirs = (options.protectedDirs ?? []).map((dir) => host.realpath(dir) ?? path.resolve(dir));
  const context = (cwd?: string) => ({ profile, roots, host, writable, protectedDirs, cwd: cwd === undefined ? roots[0]! : (host.realpath(cwd) ?? cwd) });

  // A refusal becomes a question only when every rule that refused is one the profile asks about.
  const askable = (decision: Decision): boolean => !decision.allowed && decision.severity !== 'critical' && profile.ask.includes(decision.rule);
  const withAsk = (decision: Decision, hits: readonly Decision[] = [decision]): Decision =>
    askable(decision) && hits.every(askable) ? { ...decision, ask: true } : decision;

  const judgeCommand: Policy['judgeCommand'] = async (command, opts) => {
    const ctx = context(opts?.cwd);
    if (!roots.some((root) => isInside(ctx.cwd, root))) {
      const decision = deny('path.outside-roots', 'high', `the working directory ${ctx.cwd} is outside the workspace roots (${roots.join(', ')})`);
      return { decision, hits: [decision] };
    }
    const judgement = 'line' in command ? await judgeCommandLine(command.line, ctx) : await judgeArgv(command.argv, ctx);
    return profile.ask.length === 0 ? judgement : { ...judgement, decision: withAsk(judgement.decision, judgement.hits) };
  };

  const checkPath: Policy['checkPath'] = (op, raw, opts) => {
    const ctx = context(opts?.cwd);
    const canonical = canonicalPath(raw, ctx);
    if (!canonical.ok) return { decision: canonical.decision };
    return { decision: withAsk(decideCanonicalPath(op, canonical.path, ctx, raw)), path: canonical.path };
  };

  return {
    profile,
    roots,
    judgeCommand,
    checkPath,
    async decide(action, opts) {
      switch (action.kind) {
        case 'command':
          return (await judgeCommand(action, opts)).decision;
        case 'path':
          return withAsk(decidePath(action.op, action.path, context(opts?.cwd)));
        case 'url':
          return withAsk((await checkUrl(action.url, profile.network, (name) => host.resolve(name))).decision);
      }
    },
  };
}
