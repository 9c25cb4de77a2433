import { operandSpec } from './command-catalogue.js';
import { optionValues, parseArgs } from './command-options.js';
import { judgeOperands } from './command-rules.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * Files: find, tar, sed, chmod/chown, dd and rm — options that delete, write where
 * the operands do not say, run commands, or follow links.
 */

const FIND_ACTIONS = new Set(['-exec', '-execdir', '-ok', '-okdir', '-delete', '-fprint', '-fprint0', '-fprintf', '-fls']);

export const find: ToolRule = ({ args }, out) => {
  const follow = args.find((a) => a === '-L' || a === '-follow');
  if (follow !== undefined) out.deny('command.follow-symlinks', 'medium', `find ${follow} follows symbolic links, which can lead out of the workspace`);
  for (const arg of args) {
    if (FIND_ACTIONS.has(arg)) out.deny('command.exec-option', 'high', `find ${arg} ${arg === '-delete' ? 'deletes files' : arg.startsWith('-f') ? 'writes files' : 'runs a command for each file'}`);
  }
  // Starting points follow the options -H, -L, -P, -D debugopts and -Olevel.
  let i = 0;
  while (i < args.length && /^-([HLP]+|O\d*|D)$/.test(args[i]!)) i += args[i] === '-D' ? 2 : 1;
  for (const arg of args.slice(i)) {
    if (arg.startsWith('-') || arg === '(' || arg === '!' || arg === ')' || arg === ',') break;
    out.path('list', arg, 'find starting point');
  }
};

const TAR_EXEC = ['--checkpoint-action', '--to-command', '--use-compress-program', '-I', '--rsh-command', '--info-script', '--new-volume-script', '-F', '--rmt-command', '--absolute-names', '-P'];

export const tar: ToolRule = ({ args }, out) => {
  // Old style: `tar xzf file` — the first word is a cluster of letters without a dash.
  // Each letter that takes a value takes the next word, in order (`cfI x.tar prog`).
  const normalised = args.length > 0 && !args[0]!.startsWith('-') ? oldStyleTar(args) : [...args];
  const parsed = parseArgs(normalised, { values: ['-f', '--file', '-C', '--directory', '-T', '--files-from', '-X', '--exclude-from', '-b', '-H', '--format', '--exclude', '--transform', '--strip-components', '-I', '--use-compress-program', '-F', '--info-script', '--checkpoint-action', '--to-command', '--rsh-command', '--owner', '--group', '--mode', '--mtime'] });
  const follow = parsed.options.find((o) => o.name === '-h' || o.name === '--dereference');
  if (follow) out.deny('command.follow-symlinks', 'medium', `tar ${follow.name} follows symbolic links, which can lead out of the workspace`);
  const bad = parsed.options.find((o) => TAR_EXEC.includes(o.name));
  if (bad) out.deny('command.exec-option', 'high', `tar ${bad.name} ${bad.name === '-P' || bad.name === '--absolute-names' ? 'writes to absolute paths' : 'runs another program'}`);
  const extracting = parsed.options.some((o) => ['-x', '--extract', '--get'].includes(o.name));
  const creating = parsed.options.some((o) => ['-c', '--create', '-r', '--append', '-u', '--update'].includes(o.name));
  for (const file of optionValues(parsed, '-f', '--file')) if (file !== '-') out.path(creating ? 'write' : 'read', file, 'tar archive');
  const dirs = optionValues(parsed, '-C', '--directory');
  for (const dir of dirs) out.path(extracting ? 'write' : 'read', dir, 'tar -C');
  if (extracting && dirs.length === 0) out.path('write', '.', 'tar extracts into the working directory');
  for (const list of optionValues(parsed, '-T', '--files-from', '-X', '--exclude-from')) out.path('read', list, 'tar file list');
  for (const operand of parsed.operands) out.path(extracting ? 'write' : 'read', operand, 'tar member');
};

const TAR_VALUE_LETTERS = new Set(['f', 'C', 'T', 'X', 'b', 'H', 'I', 'F', 'L', 'N', 'V', 'K', 'g']);

function oldStyleTar(args: readonly string[]): string[] {
  const out: string[] = [];
  let next = 1;
  for (const letter of args[0]!) {
    out.push(`-${letter}`);
    if (TAR_VALUE_LETTERS.has(letter) && next < args.length) out.push(args[next++]!);
  }
  return [...out, ...args.slice(next)];
}

export const sed: ToolRule = ({ args, layer }, out) => {
  const parsed = parseArgs(args, { values: ['-e', '--expression', '-f', '--file', '-l', '--line-length'] });
  const scripts = optionValues(parsed, '-e', '--expression');
  const files = optionValues(parsed, '-f', '--file');
  if (scripts.length === 0 && files.length === 0 && parsed.operands[0] !== undefined) scripts.push(parsed.operands[0]);
  for (const script of scripts) {
    const problem = sedScriptProblem(script);
    if (problem) out.deny('command.exec-option', 'high', `the sed script ${problem}`);
  }
  judgeOperands('sed', args, operandSpec('sed'), layer.unseenOperands, out);
};

/** GNU sed's `e` command and `s///e` run commands; `w` writes files the path rules never see. */
export function sedScriptProblem(script: string): string | undefined {
  let i = 0;
  const n = script.length;
  while (i < n) {
    // Skip separators and addresses (line numbers, $, /regex/, \cregexc, ranges, steps, !).
    while (i < n && /[\s;{}!,0-9$~+]/.test(script[i]!)) i++;
    if (script[i] === '/' || script[i] === '\\') {
      const delim = script[i] === '\\' ? script[++i] : '/';
      i++;
      while (i < n && script[i] !== delim) i += script[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const command = script[i];
    if (command === undefined) break;
    i++;
    if (command === 'e') return 'runs a command (e)';
    if (command === 'w' || command === 'W') return 'writes a file (w)';
    if (command === 'r' || command === 'R') return 'reads a file (r)';
    if (command === 's' || command === 'y') {
      const delim = script[i++];
      for (let part = 0; part < 2; part++) {
        while (i < n && script[i] !== delim) i += script[i] === '\\' ? 2 : 1;
        i++;
      }
      if (command === 's') {
        const flags = /^[^;\n}]*/.exec(script.slice(i))![0];
        if (flags.includes('e')) return 'runs the replacement as a command (s///e)';
        if (flags.includes('w')) return 'writes a file (s///w)';
        i += flags.length;
      }
      continue;
    }
    if ('aic'.includes(command)) {
      // text to the end of the line
      while (i < n && script[i] !== '\n') i++;
    } else if (':bTt'.includes(command)) {
      // a label ends at ';' as well as at the end of the line (GNU sed)
      while (i < n && script[i] !== '\n' && script[i] !== ';') i++;
    }
  }
  return undefined;
}

const CHMOD_OPTIONS = /^(-[Rvcf]+|--|--(recursive|verbose|changes|silent|quiet|preserve-root|no-preserve-root|reference=.*))$/;

export const chmodLike: ToolRule = ({ args, layer }, out) => {
  if (layer.name === 'chmod') {
    const reference = args.find((a) => a.startsWith('--reference='));
    if (reference !== undefined) {
      // The mode is copied from another file, setuid bits included: that file is read.
      out.path('read', reference.slice('--reference='.length), 'chmod --reference');
      for (const operand of args.filter((a) => !CHMOD_OPTIONS.test(a))) out.path('write', operand, 'chmod argument');
      return;
    }
    const mode = args.find((a) => !CHMOD_OPTIONS.test(a));
    if (mode !== undefined && chmodSetsSpecialBits(mode)) {
      out.deny('command.setuid', 'high', `chmod ${mode} sets the setuid or setgid bit`);
    }
    const operands = mode === undefined ? [] : args.slice(args.indexOf(mode) + 1).filter((a) => !CHMOD_OPTIONS.test(a));
    for (const operand of operands) out.path('write', operand, 'chmod argument');
    return;
  }
  judgeOperands(layer.name, args, operandSpec(layer.name), layer.unseenOperands, out);
};

export function chmodSetsSpecialBits(mode: string): boolean {
  // GNU chmod also takes [-+=]octal (`+4000`).
  const octal = /^[-+=]?([0-7]+)$/.exec(mode)?.[1];
  if (octal !== undefined) return octal.length >= 4 && (Number(octal[octal.length - 4]) & 6) !== 0;
  return mode.split(',').some((clause) => /[+=][rwxXst]*s/.test(clause));
}

export const dd: ToolRule = ({ args }, out) => {
  for (const arg of args) {
    if (arg.startsWith('if=')) out.path('read', arg.slice(3), 'dd if=');
    if (arg.startsWith('of=')) out.path('write', arg.slice(3), 'dd of=');
  }
};

export const rm: ToolRule = ({ args, layer }, out) => {
  if (args.includes('--no-preserve-root')) out.deny('command.destructive-delete', 'critical', 'rm --no-preserve-root');
  judgeOperands('rm', args, operandSpec('rm'), layer.unseenOperands, out);
};

/** jq's --arg/--argjson/--rawfile/--slurpfile take two words: a name, then a value or a file. */
export const jq: ToolRule = ({ args }, out) => {
  const operands: string[] = [];
  let fromFile = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--args' || arg === '--jsonargs') break; // the rest are values, not files
    if (arg === '--arg' || arg === '--argjson') i += 2;
    else if (arg === '--rawfile' || arg === '--slurpfile') {
      if (args[i + 2] !== undefined) out.path('read', args[i + 2]!, `jq ${arg}`);
      i += 2;
    } else if (arg === '-f' || arg === '--from-file') {
      fromFile = true;
      if (args[i + 1] !== undefined) out.path('read', args[++i]!, `jq ${arg}`);
    } else if (arg === '--indent') i += 1;
    else if (!arg.startsWith('-') || arg === '-') operands.push(arg);
  }
  for (const file of fromFile ? operands : operands.slice(1)) if (file !== '-') out.path('read', file, 'jq input');
};
