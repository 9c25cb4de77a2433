/**
 * `ctx.exec`: commands for tools, behind the command rules (S3) and the sandbox and
 * limits (S5). Every command is judged first and then exactly the judged form runs;
 * there is no shell anywhere. Process sessions belong to the principal that started
 * them: another principal cannot read, type into or kill them, or even learn their
 * ids. Input typed into a shell session is judged like a command line, because to a
 * shell it is one.
 */
import { realpathSync } from 'node:fs';
import { NotFoundError, PolicyDeniedError } from '../../core/index.js';
import {
  createProcessLimiter,
  createProcessSessions,
  runScript,
  sandboxPlan,
  scriptLine,
  type ProcessLimiter,
  type ProcessSessions,
  type RunResult,
  type SandboxPlan,
  type SessionInfo,
  type SessionOutput,
} from '../../exec/index.js';
import { canonicalCommandName, commandGroup, stagesOf, type Decision, type Judgement, type Policy, type Profile, type Script } from '../../policy/index.js';

export type CommandInput = { line: string } | { argv: readonly string[] };

export interface CommandRunOptions {
  cwd?: string;
  /** Capped at the profile's limit. */
  timeoutMs?: number;
  /** Capped at the profile's limit. */
  maxOutputBytes?: number;
  stdin?: string;
  signal?: AbortSignal;
}

export interface CommandRun extends RunResult {
  /** The exact form that ran, one stage per line element. */
  command: string;
}

export interface GuardedExec {
  /** The policy's judgement, without running anything. */
  judge(command: CommandInput, options?: { cwd?: string }): Promise<Judgement>;
  run(command: CommandInput, options?: CommandRunOptions): Promise<CommandRun>;
  /** Stages joined stdout to stdin through the executor; each stage judged on its own. */
  runPipeline(stages: readonly (readonly string[])[], options?: CommandRunOptions): Promise<CommandRun>;
  start(command: CommandInput, options?: { cwd?: string }): Promise<{ id: string; command: string }>;
  read(id: string, options?: { mode?: 'new' | 'tail'; lines?: number }): SessionOutput;
  send(id: string, text: string): Promise<void>;
  list(): SessionInfo[];
  kill(id: string): Promise<void>;
}

export interface ExecEnvironmentOptions {
  policy: Policy;
  profile: Profile;
  /** ironcode's data directory: hidden from sandboxed commands. */
  dataDir: string;
  warn: (message: string) => void;
  sessions?: { ttlMs?: number; maxSessions?: number; maxLifetimeMs?: number };
}

/** The process-wide half: one sandbox plan, one session table, one process budget per principal. */
export type AskHook = (decision: Decision, action: { kind: 'command'; summary: string; exact: Record<string, unknown> }) => Promise<void>;

export interface ExecEnvironment {
  /** `onAsk` decides approvable refusals (see GuardedFsOptions.onAsk); without it they are final. */
  forPrincipal(principalId: string, onAsk?: AskHook): GuardedExec;
  close(): Promise<void>;
}

export async function createExecEnvironment(options: ExecEnvironmentOptions): Promise<ExecEnvironment> {
  const { policy, profile } = options;
  const dataDir = realpathOr(options.dataDir);
  const sandbox: SandboxPlan | null = await sandboxPlan({
    mode: profile.exec.sandbox,
    network: profile.exec.network,
    roots: policy.roots,
    rootsReadOnly: profile.workspace.write === 'deny',
    hidden: [dataDir],
    warn: options.warn,
  });
  const limits = profile.exec.limits;
  const limiter: ProcessLimiter = createProcessLimiter(limits.maxProcesses);
  const sessions: ProcessSessions = createProcessSessions({
    limits,
    sandbox,
    limiter,
    ttlMs: options.sessions?.ttlMs ?? 10 * 60_000,
    maxSessions: options.sessions?.maxSessions ?? 64,
    ...(options.sessions?.maxLifetimeMs === undefined ? {} : { maxLifetimeMs: options.sessions.maxLifetimeMs }),
    warn: options.warn,
  });
  /** Sessions whose input is code to a shell. */
  const shellSessions = new Map<string, string>();

  const judged = async (command: CommandInput, cwd: string, onAsk?: AskHook): Promise<Script> => {
    const judgement = await policy.judgeCommand(command, { cwd });
    const { decision, script } = judgement;
    if (!decision.allowed && decision.ask === true && script !== undefined && onAsk !== undefined) {
      // The grant binds the exact form that will run and where, not the text that was typed.
      await onAsk(decision, { kind: 'command', summary: scriptLine(script), exact: { script: stagesOf(script).map((stage) => [stage.argv, stage.env, stage.redirects]), cwd } });
      return script;
    }
    if (!decision.allowed || script === undefined) throw new PolicyDeniedError(decision.rule, decision.severity, decision.reason);
    return script;
  };

  const runOptions = (cwd: string, opts: CommandRunOptions) => ({
    cwd,
    roots: policy.roots,
    limits: {
      ...limits,
      timeoutMs: Math.min(opts.timeoutMs ?? limits.timeoutMs, limits.timeoutMs),
      maxOutputBytes: Math.min(opts.maxOutputBytes ?? limits.maxOutputBytes, limits.maxOutputBytes),
    },
    sandbox,
    stdin: opts.stdin ?? '',
    warn: options.warn,
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });

  const forPrincipal = (principalId: string, onAsk?: AskHook): GuardedExec => {
    const resolveCwd = (cwd: string | undefined): string => {
      if (cwd === undefined) return policy.roots[0]!;
      const { decision, path } = policy.checkPath('list', cwd);
      if (!decision.allowed || path === undefined) throw new PolicyDeniedError(decision.rule, decision.severity, decision.reason);
      return path;
    };
    const own = (id: string): void => {
      if (!sessions.list(principalId).some((session) => session.id === id)) {
        throw new NotFoundError(`no process session "${id}" (it may have expired)`, { details: { id } });
      }
    };
    const run = async (script: Script, cwd: string, opts: CommandRunOptions): Promise<CommandRun> => {
      const slot = limiter.acquire(principalId, stagesOf(script).length);
      try {
        const result = await runScript(script, runOptions(cwd, opts));
        return { ...result, command: scriptLine(script) };
      } finally {
        slot.release();
      }
    };
    return {
      judge: (command, opts) => policy.judgeCommand(command, { cwd: resolveCwd(opts?.cwd) }),
      async run(command, opts = {}) {
        const cwd = resolveCwd(opts.cwd);
        return run(await judged(command, cwd, onAsk), cwd, opts);
      },
      async runPipeline(stages, opts = {}) {
        const cwd = resolveCwd(opts.cwd);
        const scripts = await Promise.all(stages.map((argv) => judged({ argv }, cwd, onAsk)));
        const pipeline: Script = {
          items: [{ connector: ';', pipeline: { negated: false, stages: scripts.flatMap((script) => stagesOf(script)) } }],
        };
        return run(pipeline, cwd, opts);
      },
      async start(command, opts = {}) {
        const cwd = resolveCwd(opts.cwd);
        const script = await judged(command, cwd, onAsk);
        const id = await sessions.start(principalId, script, { cwd, roots: policy.roots });
        if (stagesOf(script).some((stage) => commandGroup(canonicalCommandName(stage.argv[0] ?? '')) === 'shells')) shellSessions.set(id, cwd);
        return { id, command: scriptLine(script) };
      },
      read(id, opts) {
        own(id);
        return sessions.read(id, opts);
      },
      async send(id, text) {
        own(id);
        const shellCwd = shellSessions.get(id);
        if (shellCwd !== undefined) {
          // Each line is a command to the shell reading it; judge it as one before it is typed.
          for (const line of text.split('\n').filter((l) => l.trim() !== '')) await judged({ line }, shellCwd);
        }
        sessions.sendInput(id, text);
      },
      list: () => sessions.list(principalId),
      async kill(id) {
        own(id);
        await sessions.kill(id);
      },
    };
  };

  return {
    forPrincipal,
    async close() {
      shellSessions.clear();
      await sessions.close();
    },
  };
}

function realpathOr(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return dir;
  }
}
