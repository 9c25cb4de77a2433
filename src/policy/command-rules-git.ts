import type { Findings } from './command-findings.js';
import { expandLongOption, optionValues, parseArgs } from './command-options.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * git: configuration keys, sub-commands and transports that make git run a command.
 */

const GIT_EXEC_CONFIG = /^(tar\..*\.command|difftool\..*\.(cmd|path)|mergetool\..*\.(cmd|path)|imap\.tunnel|init\.templatedir|.*\.cmd|core\.(sshcommand|pager|editor|fsmonitor|hookspath|gitproxy|askpass|alternaterefscommand)|credential\..*|diff\..*\.(textconv|command)|diff\.external|filter\..*|merge\..*\.driver|alias\..*|sequence\.editor|gpg\..*program|pager\..*|protocol\..*\.allow|uploadpack\..*|receive\..*|remote\..*\.(uploadpack|receivepack|proxy)|include\..*|includeif\..*|http\..*proxy|url\..*\.insteadof|ssh\.variant|interactive\.difffilter|sendemail\..*|web\.browser|browser\..*|man\..*)$/i;
const GIT_EXEC_SUBCOMMANDS: Record<string, string[]> = {
  submodule: ['foreach'],
  bisect: ['run'],
  rebase: ['--exec', '-x'],
  difftool: ['-x', '--extcmd'],
  grep: ['-O', '--open-files-in-pager'],
  archive: ['--exec', '--remote'],
  clone: ['--upload-pack', '-u', '--template', '--config', '-c'],
  fetch: ['--upload-pack'],
  pull: ['--upload-pack'],
  push: ['--receive-pack', '--exec'],
  'ls-remote': ['--upload-pack'],
};
const GIT_PATH_OPTIONS: Record<string, 'read' | 'write'> = {
  '--output': 'write',
  '-o': 'write',
  '--output-directory': 'write',
  '--contents': 'read',
  '--ignore-revs-file': 'read',
  '--pathspec-from-file': 'read',
};
const GIT_REMOTE_SUBCOMMANDS = new Set(['clone', 'fetch', 'pull', 'push', 'ls-remote', 'remote', 'submodule']);

export const git: ToolRule = ({ args }, out) => {
  const globals = parseArgs(args, { values: ['-C', '-c', '--git-dir', '--work-tree', '--namespace', '--config-env', '--exec-path', '--super-prefix'], stopAtOperand: true });
  for (const option of globals.options) {
    if (option.name === '-c' && option.value !== undefined && GIT_EXEC_CONFIG.test(option.value.split('=')[0]!)) {
      out.deny('command.exec-option', 'high', `git -c ${option.value.split('=')[0]} can make git run a command`);
    }
    if (option.name === '--config-env' || option.name === '--exec-path' || option.name === '--super-prefix') {
      out.deny('command.exec-option', 'high', `git ${option.name} changes what git executes`);
    }
    if (['-C', '--git-dir', '--work-tree'].includes(option.name) && option.value !== undefined) out.path('read', option.value, `git ${option.name}`);
  }
  const rest = args.slice(globals.firstOperandIndex);
  const sub = rest[0];
  if (sub === undefined) return;
  const subArgs = rest.slice(1);
  if (sub === 'filter-branch') out.deny('command.exec-option', 'high', 'git filter-branch runs shell snippets');
  if (sub === 'config') gitConfig(subArgs, out);
  const execFlags = GIT_EXEC_SUBCOMMANDS[sub];
  if (execFlags) {
    const hit = subArgs.find((a) => execFlags.some((f) => a === f || a.startsWith(`${f}=`) || (f.length === 2 && !f.startsWith('--') && a.startsWith(f)) || expandLongOption(a.split('=')[0]!, execFlags) === f));
    if (hit) out.deny('command.exec-option', 'high', `git ${sub} ${hit} runs a command`);
  }
  for (const arg of subArgs) {
    if (/^(ext|fd)::/.test(arg)) out.deny('command.exec-option', 'critical', `git transport ${JSON.stringify(arg)} runs a command`);
    else if (/^https?:\/\//i.test(arg) && GIT_REMOTE_SUBCOMMANDS.has(sub)) out.url(arg, `git ${sub}`);
    else if (/^file:\/\//i.test(arg)) out.path('read', arg.slice('file://'.length), `git ${sub} file URL`);
  }
  const parsedSub = parseArgs(subArgs, { values: ['-m', '--message', '-b', '-B', '--branch', '--author', '--format', '--pretty', '-n', '--depth', '-o', '--origin', '-F', '--file', '-S', '-G', '--grep', '--since', '--until', '--date', ...Object.keys(GIT_PATH_OPTIONS)] });
  for (const file of optionValues(parsedSub, '-F', '--file')) out.path('read', file, `git ${sub} ${'-F'}`);
  // Options that name files (`git diff --output=/path`, `git blame --contents=file`).
  for (const option of parsedSub.options) {
    const use = GIT_PATH_OPTIONS[option.name];
    if (use !== undefined && option.value !== undefined) out.path(use, option.value, `git ${sub} ${option.name}`);
  }
  parsedSub.operands.forEach((operand, i) => {
    if (/^[a-z+]+:\/\//i.test(operand) || /^[\w.-]+@[\w.-]+:/.test(operand)) return;
    // clone creates its directory, the operand after the repository: a write wherever it is (`git clone URL .husky`).
    if (sub === 'clone' && i > 0) out.path('write', operand, 'git clone directory');
    else if (operand.startsWith('/') || operand.startsWith('..') || operand.includes('/../')) out.path('read', operand, `git ${sub} path`);
    else out.path('read', operand, `git ${sub} argument`);
  });
};

function gitConfig(args: readonly string[], out: Findings): void {
  if (args.some((a) => ['--global', '--system', '--file', '-f', '--blob'].includes(a) || a.startsWith('--file='))) {
    out.deny('command.git-config', 'high', 'git config outside the repository (--global, --system, --file) changes other programs\' configuration');
  }
  const parsed = parseArgs(args, { values: ['--type', '--default', '--comment'] });
  const key = parsed.operands[0];
  const reading = parsed.options.some((o) => /^--(get|get-all|get-regexp|list|get-urlmatch|show-origin|show-scope)$/.test(o.name) || o.name === '-l');
  if (!reading && key !== undefined && parsed.operands.length > 1 && GIT_EXEC_CONFIG.test(key)) {
    out.deny('command.exec-option', 'high', `git config ${key} can make git run a command`);
  }
}
