import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { isIronError, toIronError } from '../core/index.js';
import { registerAdmin } from './admin-commands.js';
import { registerApprovals } from './approvals-commands.js';
import { registerAudit } from './audit-cli.js';
import { registerDb } from './db-commands.js';
import { execCommand } from './exec-command.js';
import { registerMcp } from './mcp-command.js';
import { registerServe } from './serve-command.js';
import { policyCheck } from './policy-check.js';
import { formatExplanation } from './policy-explain.js';
import { loadRuntime, type WorkspaceFlags } from './runtime.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function workspaceOptions(command: Command): Command {
  return command
    .option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)')
    .option('--profile <name>', 'safety profile: strict, standard, permissive or a custom profile .yaml')
    .option('--root <dir>', 'workspace root (repeatable; default: the current directory)', collect);
}

function buildProgram(exit: { code: number }, argv: readonly string[]): Command {
  const program = new Command('ironcode')
    .description('The control plane that lets AI agents operate real infrastructure safely.')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  const policy = program.command('policy').description('ask the safety kernel');

  workspaceOptions(policy.command('check'))
    .description('read JSON Lines of actions on stdin, write one decision per line')
    .action(async (flags: WorkspaceFlags) => {
      const runtime = await loadRuntime(flags);
      await policyCheck(runtime.policy, process.stdin, process.stdout);
    });

  workspaceOptions(policy.command('explain'))
    .description('show how a command line is parsed and every rule that hits')
    .argument('<line>', 'the command line')
    .option('--json', 'print the judgement as JSON')
    .action(async (line: string, flags: WorkspaceFlags & { json?: boolean }) => {
      const runtime = await loadRuntime(flags);
      const judgement = await runtime.policy.judgeCommand({ line });
      process.stdout.write(flags.json ? `${JSON.stringify({ decision: judgement.decision, hits: judgement.hits, script: judgement.script ?? null }, null, 2)}\n` : `${formatExplanation(line, judgement)}\n`);
      exit.code = judgement.decision.allowed ? 0 : 1;
    });

  workspaceOptions(program.command('exec'))
    .description('run a command line (or -- argv…) through the policy, the sandbox and the limits')
    .argument('[command...]', 'a command line as one argument, or an argv after --')
    .option('--cwd <dir>', 'working directory inside a root (default: the first root)')
    .addOption(new Option('--timeout <ms>', 'wall-clock limit, at most the profile\'s').argParser((v) => parsePositiveInt(v, '--timeout')))
    .action(async (words: string[], flags: WorkspaceFlags & { cwd?: string; timeout?: number }, command: Command) => {
      const runtime = await loadRuntime(flags);
      const asArgv = command.args.length > 0 && argv.includes('--');
      if (words.length === 0) throw new CommanderError(2, 'ironcode.usage', 'exec needs a command line or -- argv…');
      if (!asArgv && words.length > 1) throw new CommanderError(2, 'ironcode.usage', 'give the command line as one quoted argument, or an argv after --');
      const request = { ...(asArgv ? { argv: words } : { line: words[0]! }), ...(flags.cwd ? { cwd: flags.cwd } : {}), ...(flags.timeout ? { timeoutMs: flags.timeout } : {}) };
      const { openAuditRecorder } = await import('./audit-recorder.js');
      const recorder = await openAuditRecorder(runtime.config);
      const result = await execCommand(runtime, request, (message) => process.stderr.write(`ironcode: ${message}\n`), (decision, cwd) =>
        recorder.recordDecision(decision, { ...request, cwd, profile: runtime.profile.name }),
      ).finally(() => recorder.close());
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      if (result.timedOut) process.stderr.write(`ironcode: timed out after ${flags.timeout ?? runtime.profile.exec.limits.timeoutMs} ms; the process group was killed\n`);
      exit.code = result.timedOut ? 124 : result.exitCode ?? 128 + signalNumber(result.signal);
    });

  registerServe(program, exit, version);
  registerMcp(program, exit, version);
  registerAdmin(program);
  registerDb(program);
  registerAudit(program, exit);
  registerApprovals(program);
  return program;
}

function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CommanderError(2, 'ironcode.usage', `${name} must be a positive integer number of milliseconds`);
  return n;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
function signalNumber(signal: string | null): number {
  return signal === null ? 0 : (SIGNALS[signal] ?? 1);
}

/** Runs the CLI; returns the process exit code. Errors are mapped once, here. */
export async function main(argv: readonly string[]): Promise<number> {
  const exit = { code: 0 };
  try {
    await buildProgram(exit, argv).parseAsync([...argv]);
    return exit.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      if (error.code === 'ironcode.usage') process.stderr.write(`ironcode: ${error.message}\n`);
      return error.exitCode === 1 ? 2 : error.exitCode;
    }
    const iron = toIronError(error);
    const prefix = iron.kind === 'policyDenied' ? `denied by ${String(iron.details.rule)} (${String(iron.details.severity)})` : iron.code;
    process.stderr.write(`ironcode: ${prefix}: ${iron.message}\n`);
    // An internal error is ironcode's bug: show where, so it can be reported.
    if (!isIronError(error) && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return iron.exitCode;
  }
}
