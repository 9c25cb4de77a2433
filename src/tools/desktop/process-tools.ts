/**
 * Commands and process sessions (T3). Everything runs through ctx.exec: judged by the
 * command rules, no shell, sandboxed and limited as the profile says. Sessions are
 * the caller's own; input typed into a shell session is judged line by line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ValidationError } from '../../core/index.js';
import { commandResultFields, commandResultOf } from '../command-result.js';
import type { CommandInput, GuardedExec } from '../capabilities/guarded-exec.js';
import type { ToolContext } from '../context.js';
import { anyTool, defineTool } from '../tool.js';

const commandFields = {
  command: z.string().min(1).max(32_768).optional().describe('A command line, parsed by a real shell parser (no shell runs it).'),
  argv: z.array(z.string().max(32_768)).min(1).max(4096).optional().describe('The command as an argument vector; use instead of command.'),
  cwd: z.string().min(1).optional().describe('Working directory inside the workspace roots; default the first root.'),
};

function commandOf(input: { command?: string | undefined; argv?: string[] | undefined }): CommandInput {
  if ((input.command === undefined) === (input.argv === undefined)) {
    throw new ValidationError('give exactly one of command (a command line) or argv (an argument vector)', [
      { path: input.command === undefined ? 'command' : 'argv', message: 'exactly one of command or argv is required' },
    ]);
  }
  return input.command !== undefined ? { line: input.command } : { argv: input.argv! };
}

const runCommand = defineTool('desktop', {
  name: 'run_command',
  title: 'Run a command',
  description: 'Run a command to completion and return its exit code, stdout and stderr. Checked by the safety policy; no shell.',
  usage: [
    'Runs one command line (pipes, &&, ||, redirects are understood; no shell is involved) or an argv,',
    'in a working directory inside the workspace roots, under the profile\'s sandbox and limits.',
    'timeoutMs and maxOutputBytes can lower the profile\'s limits, never raise them. Output past the cap is',
    'dropped with a marker (truncated: true). Refused commands fail with the rule that refused them.',
    'Reports progress every second while it runs; cancelling the call kills the command.',
  ].join(' '),
  input: z.strictObject({
    ...commandFields,
    timeoutMs: z.number().int().min(100).max(24 * 3600_000).optional(),
    maxOutputBytes: z.number().int().min(1024).max(64 * 1024 * 1024).optional(),
    stdin: z.string().max(16 * 1024 * 1024).optional().describe('Text given to the command on standard input.'),
  }),
  output: z.object({ command: z.string(), ...commandResultFields }),
  risk: 'execute',
  hints: { destructive: true, openWorld: true },
  async run(ctx, input) {
    const started = Date.now();
    const ticker = setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      ctx.progress(seconds, input.timeoutMs === undefined ? undefined : Math.ceil(input.timeoutMs / 1000), `running for ${seconds} s`);
    }, 1000);
    try {
      const result = await ctx.exec.run(commandOf(input), {
        ...(input.cwd === undefined ? {} : { cwd: input.cwd }),
        ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
        ...(input.maxOutputBytes === undefined ? {} : { maxOutputBytes: input.maxOutputBytes }),
        ...(input.stdin === undefined ? {} : { stdin: input.stdin }),
        signal: ctx.signal,
      });
      if (result.aborted) ctx.signal.throwIfAborted();
      return { command: result.command, ...commandResultOf(result) };
    } finally {
      clearInterval(ticker);
    }
  },
  text(output) {
    const status = output.timedOut ? 'timed out' : output.signal !== null ? `killed by ${output.signal}` : `exit code ${output.exitCode}`;
    const parts = [`$ ${output.command}`, `(${status}, ${output.durationMs} ms${output.truncated ? ', output truncated' : ''})`];
    if (output.stdout !== '') parts.push(output.stdout.trimEnd());
    if (output.stderr !== '') parts.push(`[stderr]\n${output.stderr.trimEnd()}`);
    return parts.join('\n');
  },
  auditResult: (output) => ({ command: output.command, exitCode: output.exitCode, signal: output.signal, timedOut: output.timedOut, durationMs: output.durationMs }),
});

const sessionOutput = z.object({
  id: z.string(),
  output: z.string(),
  exited: z.boolean(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  missedBytes: z.number().int(),
  droppedBytes: z.number().int(),
});

const waitMs = z.number().int().min(0).max(30_000).optional().describe('Wait up to this long for output before answering (default 0 for reads).');

/** Reads a session, waiting up to `ms` for something new (or its exit). */
async function readSoon(exec: GuardedExec, ctx: ToolContext, id: string, ms: number, options: { mode?: 'new' | 'tail'; lines?: number } = {}) {
  const deadline = Date.now() + ms;
  let result = exec.read(id, options);
  let collected = result.output;
  while (options.mode !== 'tail' && collected === '' && !result.exited && Date.now() < deadline && !ctx.signal.aborted) {
    await sleep(Math.min(25, Math.max(deadline - Date.now(), 1)));
    result = exec.read(id, options);
    collected += result.output;
  }
  return { ...result, output: collected };
}

const startProcess = defineTool('desktop', {
  name: 'start_process',
  title: 'Start a process session',
  description: 'Start a long-running command (a dev server, a build, a REPL the profile allows) and return its session id and first output.',
  usage:
    'Starts the command in the background with stdout and stderr merged into one buffer, and waits up to waitMs (default 1000) for its first output. Read more with desktop_read_process_output, type into it with desktop_send_input, stop it with desktop_kill_process. Sessions belong to the caller that started them.',
  input: z.strictObject({ ...commandFields, waitMs }),
  output: sessionOutput.extend({ command: z.string() }),
  risk: 'execute',
  hints: { destructive: true, openWorld: true },
  async run(ctx, input) {
    const started = await ctx.exec.start(commandOf(input), input.cwd === undefined ? {} : { cwd: input.cwd });
    const first = await readSoon(ctx.exec, ctx, started.id, input.waitMs ?? 1000);
    return { ...first, command: started.command };
  },
  text: (output) => `session ${output.id}: ${output.command}${output.exited ? ` (exited: ${output.exitCode ?? output.signal})` : ' (running)'}\n${output.output}`,
  auditResult: (output) => ({ id: output.id, command: output.command, exited: output.exited }),
});

const readProcessOutput = defineTool('desktop', {
  name: 'read_process_output',
  title: 'Read a process session\'s output',
  description: 'Read new output of a process session (or its last N lines); works after the process has exited.',
  input: z.strictObject({
    id: z.string().min(1),
    mode: z.enum(['new', 'tail']).optional().describe('new: output since the last read (default); tail: the last `lines` lines held.'),
    lines: z.number().int().min(1).max(10_000).optional(),
    waitMs,
  }),
  output: sessionOutput,
  risk: 'read',
  hints: { idempotent: false },
  async run(ctx, input) {
    return readSoon(ctx.exec, ctx, input.id, input.waitMs ?? 0, {
      ...(input.mode === undefined ? {} : { mode: input.mode }),
      ...(input.lines === undefined ? {} : { lines: input.lines }),
    });
  },
  text: (output) => `${output.output}${output.exited ? `\n[exited: ${output.exitCode ?? output.signal}]` : ''}${output.missedBytes > 0 ? `\n[${output.missedBytes} bytes fell out of the buffer unread]` : ''}`,
  auditResult: (output) => ({ id: output.id, bytes: output.output.length, exited: output.exited }),
});

const sendInput = defineTool('desktop', {
  name: 'send_input',
  title: 'Type into a process session',
  description: 'Send text to a running process session\'s standard input and return the output that follows.',
  usage:
    'Sends text (plus a newline unless appendNewline is false) and waits up to waitMs (default 1000) for output. Input to a shell session is judged line by line like a command, so a shell cannot be used to get around the policy.',
  input: z.strictObject({
    id: z.string().min(1),
    text: z.string().max(1024 * 1024),
    appendNewline: z.boolean().optional(),
    waitMs,
  }),
  output: sessionOutput,
  risk: 'execute',
  hints: { destructive: true, openWorld: true },
  async run(ctx, input) {
    const text = input.appendNewline === false ? input.text : `${input.text}\n`;
    await ctx.exec.send(input.id, text);
    return readSoon(ctx.exec, ctx, input.id, input.waitMs ?? 1000);
  },
  text: (output) => output.output,
  auditResult: (output) => ({ id: output.id, exited: output.exited }),
});

const listProcesses = defineTool('desktop', {
  name: 'list_processes',
  title: 'List process sessions',
  description: 'List the process sessions this caller started, running or recently finished.',
  input: z.strictObject({}),
  output: z.object({
    sessions: z.array(
      z.object({
        id: z.string(),
        command: z.string(),
        startedAt: z.string(),
        running: z.boolean(),
        exitCode: z.number().int().nullable(),
        signal: z.string().nullable(),
      }),
    ),
  }),
  risk: 'read',
  async run(ctx) {
    return {
      sessions: ctx.exec.list().map((s) => ({ id: s.id, command: s.command, startedAt: s.startedAt.toISOString(), running: s.running, exitCode: s.exitCode, signal: s.signal })),
    };
  },
  text: (output) =>
    output.sessions.length === 0
      ? 'no process sessions'
      : output.sessions.map((s) => `${s.id}  ${s.running ? 'running' : `exited ${s.exitCode ?? s.signal}`}  ${s.command}`).join('\n'),
  auditResult: (output) => ({ sessions: output.sessions.length }),
});

const killProcess = defineTool('desktop', {
  name: 'kill_process',
  title: 'Stop a process session',
  description: 'Stop a process session (SIGTERM, then SIGKILL) and everything it started; its output stays readable for a while.',
  input: z.strictObject({ id: z.string().min(1) }),
  output: sessionOutput,
  risk: 'execute',
  hints: { destructive: true, idempotent: true },
  async run(ctx, input) {
    await ctx.exec.kill(input.id);
    return ctx.exec.read(input.id, { mode: 'tail', lines: 20 });
  },
  text: (output) => `session ${output.id} stopped (${output.exitCode ?? output.signal})`,
  auditResult: (output) => ({ id: output.id, exitCode: output.exitCode, signal: output.signal }),
});

export const processTools = [anyTool(runCommand), anyTool(startProcess), anyTool(readProcessOutput), anyTool(sendInput), anyTool(listProcesses), anyTool(killProcess)];
