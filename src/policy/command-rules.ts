import { commandGroup, operandSpec, type OperandSpec } from './command-catalogue.js';
import type { Findings } from './command-findings.js';
import { hasOption, parseArgs } from './command-options.js';
import { TOOL_RULES } from './command-rules-tools.js';
import { interpreterRule } from './command-rules-interpreters.js';
import type { Layer } from './command-unwrap.js';

/**
 * Rules that judge one command (one layer of a stage, wrappers already peeled
 * off) by what it is and what its arguments ask for.
 */

export interface LayerContext {
  layer: Layer;
  /** Where the command sits: standard input from a pipe, a here-document or a file. */
  stdinFromPipe: boolean;
  stdinText: boolean;
  /** The here-document or here-string itself, for programs that read commands from it. */
  stdinContent?: string;
  stdinFile: boolean;
  interactiveAllowed: boolean;
  relaxed: ReadonlySet<string>;
}

const GROUP_RULES: Record<string, { rule: string; severity: 'critical' | 'high' | 'medium'; reason: string }> = {
  builtins: { rule: 'command.shell-builtin', severity: 'high', reason: 'is a shell built-in that evaluates code or runs commands; ironcode runs no shell' },
  privilege: { rule: 'command.privilege-escalation', severity: 'critical', reason: 'changes user or privileges, or the root and mounts a command sees' },
  destructive: { rule: 'command.system-modification', severity: 'critical', reason: 'changes file systems or devices' },
  power: { rule: 'command.system-modification', severity: 'critical', reason: 'stops or restarts the machine' },
  services: { rule: 'command.system-modification', severity: 'high', reason: 'controls system services' },
  accounts: { rule: 'command.system-modification', severity: 'critical', reason: 'changes users, groups or passwords' },
  scheduling: { rule: 'command.system-modification', severity: 'high', reason: 'installs scheduled jobs' },
  firewall: { rule: 'command.system-modification', severity: 'critical', reason: 'changes the firewall' },
  kernel: { rule: 'command.system-modification', severity: 'critical', reason: 'changes the kernel or its settings' },
  debuggers: { rule: 'command.debugger', severity: 'high', reason: 'attaches to or traces processes' },
  remote: { rule: 'command.remote-shell', severity: 'high', reason: 'runs commands on or copies files to other hosts' },
  pagers: { rule: 'command.pager-editor', severity: 'medium', reason: 'is an interactive program with shell escapes' },
  // As `&`: what runs in the background escapes the time limit and the cleanup of the process group.
  detachers: { rule: 'command.detach', severity: 'medium', reason: 'starts a daemon that outlives the command, its time limit and the process-group cleanup; use a process session' },
  shellrunners: { rule: 'command.inline-code', severity: 'high', reason: 'runs its command arguments through a shell' },
  systembus: { rule: 'command.system-modification', severity: 'high', reason: 'calls methods of system services over D-Bus (power, log-ins, host name, units)' },
};

/** Reading pagers are fine when they only page files; `+cmd` runs less commands. */
const PAGING_READERS = new Set(['less', 'more']);

export function judgeLayer(ctx: LayerContext, out: Findings): void {
  const { name, argv, ownArgs } = ctx.layer;
  // A wrapper is judged on its own words; the command it wraps is a layer of its own.
  const args = ownArgs === undefined ? argv.slice(1) : argv.slice(1, 1 + ownArgs);
  const group = commandGroup(name);

  const groupRule = group ? GROUP_RULES[group] : undefined;
  if (groupRule && !(group === 'pagers' && PAGING_READERS.has(name)) && !(name === 'sysctl' && isSysctlRead(args))) {
    if (!ctx.relaxed.has(groupRule.rule)) out.deny(groupRule.rule, groupRule.severity, `${name} ${groupRule.reason}`);
  }
  if (PAGING_READERS.has(name) && args.some((a) => a.startsWith('+'))) {
    out.deny('command.exec-option', 'high', `${name} +command runs pager commands, which can start a shell`);
  }

  if (group === 'shells' || group === 'interpreters' || group === 'awk') {
    interpreterRule(ctx, group, out);
    return;
  }
  const toolRule = TOOL_RULES[name] ?? (group ? TOOL_RULES[`@${group}`] : undefined);
  if (toolRule) {
    toolRule({ ...ctx, args }, out);
    return;
  }
  judgeOperands(name, args, operandSpec(name), ctx.layer.unseenOperands, out);
}

/** Whether a command has a rule of its own (directly or through its group). */
export function hasToolRule(name: string, group: string | undefined): boolean {
  return name in TOOL_RULES || (group !== undefined && `@${group}` in TOOL_RULES);
}

function isSysctlRead(args: readonly string[]): boolean {
  return !args.some((a) => a.includes('=') || ['-w', '--write', '-p', '--load', '--system', '-f'].includes(a));
}

/**
 * The path rules for a command's operands and path-valued options, by its catalogue entry.
 * `isLocal` leaves out operands that name no local file (rsync's `host:path`); they still
 * count for which operand is the last.
 */
export function judgeOperands(name: string, args: readonly string[], spec: OperandSpec, unseen: boolean, out: Findings, isLocal: (operand: string) => boolean = () => true): void {
  const words = spec.foldCase ? args.map(foldOptionCase) : args;
  const parsed = parseArgs(words, { values: [...(spec.values ?? []), ...Object.keys(spec.paths ?? {}), ...(spec.exec ?? [])], attached: spec.attached ?? [], known: spec.follows ?? [] });
  for (const option of parsed.options) {
    if (spec.exec?.includes(option.name)) {
      out.deny('command.exec-option', 'high', `${name} ${option.name} runs ${option.value === undefined ? 'a program' : JSON.stringify(option.value)}`);
      continue;
    }
    if (option.name === '--files0-from' && option.value === '-') {
      out.deny('command.unseen-operands', 'high', `${name} --files0-from=- takes the names of files to read from standard input, unseen by the rules`);
      continue;
    }
    const use = spec.paths?.[option.name] ?? (option.name === '--files0-from' ? 'read' : undefined);
    if (use && option.value !== undefined) out.path(use, option.value, `${name} ${option.name}`);
    else if (!use && option.value !== undefined && !(spec.values ?? []).includes(option.name) && /^[^\s-]\S*$/.test(option.value)) {
      // An option we know nothing about may name a file (`diff --from-file=.env`):
      // judged as a read, which only bites outside the roots and on secrets.
      out.path('read', option.value, `${name} ${option.name}=`);
    }
  }
  const follow = parsed.options.find((o) => spec.follows?.includes(o.name));
  if (follow) {
    out.deny('command.follow-symlinks', 'medium', `${name} ${follow.name} follows symbolic links, which can lead out of the workspace; ${name === 'grep' ? 'use grep -r' : 'drop the option'}`);
  }
  let kind = spec.args;
  if (spec.inPlace !== undefined && hasOption(parsed, ...spec.inPlace)) kind = 'write';
  if (kind === 'text') return;
  const skipNone = spec.skipUnless?.some((o) => hasOption(parsed, o)) ?? false;
  const operands = parsed.operands.slice(skipNone ? 0 : (spec.skip ?? 0));
  if (unseen && (kind === 'write' || kind === 'delete' || spec.last === 'write')) {
    out.deny('command.unseen-operands', 'high', `xargs would give ${name} file arguments that are not visible in the command line`);
  }
  operands.forEach((operand, i) => {
    const last = i === operands.length - 1 && operands.length > 1 && spec.last !== undefined;
    if (isLocal(operand)) out.path(last ? spec.last! : kind, operand, `${name} argument`);
  });
}

/** `-OutDir`, `--OUTDIR` → `--outdir`, for programs that read option names that way (tsc); `-p` stays. */
function foldOptionCase(word: string): string {
  const match = /^(--?)([A-Za-z][\w-]*)(=.*)?$/.exec(word);
  if (match === null) return word;
  const [, dashes, name, value] = match;
  return `${dashes === '-' && name!.length > 1 ? '--' : dashes}${name!.toLowerCase()}${value ?? ''}`;
}

/** Absolute, home-relative or climbing paths, for options we know nothing else about. */
export function looksLikePath(value: string): boolean {
  return value.startsWith('/') || value.startsWith('~') || value === '..' || value.startsWith('../') || value.includes('/../');
}
