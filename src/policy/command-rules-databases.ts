import type { Findings } from './command-findings.js';
import { optionValues, parseArgs, type ParsedArgs } from './command-options.js';
import type { LayerContext } from './command-rules.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * Database clients read SQL plus commands of their own, and some of those reach
 * outside the database: a shell (`\!`, `.shell`, `system`), a program fed the output
 * (`\o |cmd`, `.once |cmd`, `pager`), files written or read (`\o file`, `.output`,
 * `tee`, `readfile()`), libraries loaded (`.load`). Input on the command line and in
 * here-documents is read for them: file commands are path-checked, the rest refused.
 * A script file (`psql -f`, `sqlite3 db < f.sql`) is judged as a shell script is: the
 * file is path-checked, what it does is its own. Input piped from another command is
 * refused, as for an interpreter; so is an interactive client where the profile
 * refuses REPLs.
 */

type Client = 'psql' | 'mysql' | 'sqlite3';

const CLIENT_OF: Record<string, Client> = { psql: 'psql', mysql: 'mysql', mariadb: 'mysql', sqlite3: 'sqlite3' };

export const databases: ToolRule = (ctx, out) => {
  const client = CLIENT_OF[ctx.layer.name];
  if (client === 'psql') psql(ctx, out);
  else if (client === 'mysql') mysql(ctx, out);
  else sqlite3(ctx, out);
};

/** What the client reads its commands from when none are given on the command line. */
function commandsFromStdin(name: string, ctx: LayerContext, scan: (text: string) => void, out: Findings): void {
  if (ctx.stdinFromPipe) {
    out.deny('command.pipe-to-interpreter', 'critical', `piping into ${name} runs whatever the previous command prints as ${name} commands, shell escapes included`);
  } else if (ctx.stdinContent !== undefined) {
    scan(ctx.stdinContent);
  } else if (!ctx.stdinFile && !ctx.interactiveAllowed) {
    out.deny('command.interactive-interpreter', 'medium', `${name} without commands would read them from standard input; this profile does not start shells or REPLs`);
  }
}

// ---------------------------------------------------------------------------
// psql

/**
 * Meta-commands that only describe, format or query: no shell, no files, no environment.
 * Not \gset or \prompt: a variable's value is pasted in literally where `:name` is used,
 * backslash commands included, so a value from a query or from input could become `\!`.
 */
const PSQL_SAFE = /^(d\w*[+S]*|a|bind|bind_named|c|C|close|connect|conninfo|copyright|crosstabview|echo|elif|else|encoding|endif|errverbose|f|g|gx|gdesc|gexec|h|H|help|if|l\+?|list\+?|lo_list|parse|pset|q|qecho|quit|s[fv]\+?|set|t|T|timing|unset|warn|watch|x|z\+?|\?)$/;

function psql(ctx: LayerContext & { args: readonly string[] }, out: Findings): void {
  const { args, layer: { name } } = ctx;
  const parsed = parseArgs(args, {
    values: ['-c', '--command', '-d', '--dbname', '-f', '--file', '-h', '--host', '-p', '--port', '-U', '--username', '-o', '--output', '-L', '--log-file', '-v', '--set', '--variable', '-P', '--pset', '-F', '--field-separator', '-R', '--record-separator', '-T', '--table-attr'],
  });
  const scan = (text: string) => psqlInput(name, text, out);
  for (const value of optionValues(parsed, '-v', '--set', '--variable')) {
    // A variable's value is pasted in literally where it is used, backslash commands and all.
    if (/[\\`]/.test(value)) out.deny('command.inline-code', 'high', `${name} variable ${JSON.stringify(value)} holds a backslash command or a shell command`);
  }
  for (const option of parsed.options) {
    if (['-o', '--output', '-L', '--log-file'].includes(option.name) && option.value !== undefined) fileTarget(name, option.name, option.value, 'write', out);
  }
  const commands = optionValues(parsed, '-c', '--command');
  commands.forEach(scan);
  const scripts = optionValues(parsed, '-f', '--file');
  for (const file of scripts) if (file !== '-') out.path('read', file, `${name} script`);
  const noInput = hasAny(parsed, '-l', '--list', '-V', '--version', '-?', '--help');
  if ((commands.length === 0 && scripts.length === 0 && !noInput) || scripts.includes('-')) commandsFromStdin(name, ctx, scan, out);
}

function psqlInput(name: string, text: string, out: Findings): void {
  const code = outsideStrings(text, psqlStrings);
  if (/\bcopy\b[^;]*\bprogram\b/i.test(code)) out.deny('command.inline-code', 'high', `${name}: COPY … PROGRAM runs a shell command`);
  for (const { command, rest } of backslashCommands(text, code)) {
    const where = `${name} \\${command}`;
    if (rest.includes('`')) {
      out.deny('command.inline-code', 'high', `${where}: text in backquotes runs a shell command`);
      continue;
    }
    // \g and \gx may start with an option list: `\g (format=csv) file`.
    const [first] = metaWords(['g', 'gx'].includes(command) ? rest.replace(/^\s*\([^)]*\)/, '') : rest);
    if (command === 'set') {
      if (/\\/.test(rest)) out.deny('command.inline-code', 'high', `${where} stores a backslash command, which runs where the variable is used`);
    } else if (['o', 'out', 'w', 'write'].includes(command) || (['g', 'gx'].includes(command) && first !== undefined)) {
      if (first !== undefined) fileTarget(name, `\\${command}`, first, 'write', out);
    } else if (['i', 'include', 'ir', 'include_relative'].includes(command)) {
      if (first !== undefined) out.path('read', first, `${where} script`);
    } else if (command === 'copy') {
      psqlCopy(where, rest, out);
    } else if (['lo_import', 'lo_export'].includes(command)) {
      const file = command === 'lo_import' ? first : metaWords(rest)[1];
      if (file !== undefined) out.path(command === 'lo_import' ? 'read' : 'write', file, where);
    } else if (!PSQL_SAFE.test(command)) {
      const shell = command === '!' || /^(e|edit|ef|ev|setenv|cd)$/.test(command);
      out.deny(shell ? 'command.inline-code' : 'command.exec-option', 'high', `${where} ${shell ? 'runs a shell, an editor or changes their environment' : 'is a client command that can run programs or touch files the rules do not see'}`);
    }
  }
}

/** `\copy table from|to target …`: a file, standard input or output, or `program 'cmd'`. */
function psqlCopy(where: string, rest: string, out: Findings): void {
  const match = /\b(from|to)\s+(program\b|'(?:[^']|'')*'|"[^"]*"|\S+)/i.exec(rest);
  if (match === null) return;
  const [, direction, target] = match;
  if (/^program$/i.test(target!)) out.deny('command.inline-code', 'high', `${where} … program runs a shell command`);
  else if (!/^p?std(in|out)$/i.test(target!)) out.path(direction!.toLowerCase() === 'to' ? 'write' : 'read', unquote(target!), where);
}

/**
 * Backslash commands of psql input: a backslash outside string literals, then the
 * command's name. Its arguments are taken to the end of the line: psql ends them
 * earlier at an unquoted `\\`, but a `\\` inside a quoted argument does not end them,
 * and the commands after a `\\` are found on their own anyway.
 */
function backslashCommands(text: string, code: string): { command: string; rest: string }[] {
  const found: { command: string; rest: string }[] = [];
  for (let i = 0; i < code.length; i++) {
    if (code[i] !== '\\') continue;
    if (code[i + 1] === '\\') {
      i++;
      continue;
    }
    const name = /^(?:[!?]|[A-Za-z_]+[+S]*)/.exec(text.slice(i + 1))?.[0] ?? '';
    found.push({ command: name, rest: restOfLine(text, i + 1 + name.length) });
    i += name.length;
  }
  return found;
}

// ---------------------------------------------------------------------------
// mysql and mariadb

/** Short client commands that reach outside: shell, pager, tee, editor, source, delimiter. */
const MYSQL_SHORT: Record<string, 'shell' | 'write' | 'read' | 'delimiter'> = { '!': 'shell', P: 'shell', e: 'shell', T: 'write', '.': 'read', d: 'delimiter' };
const MYSQL_NAMED: Record<string, 'shell' | 'write' | 'read' | 'delimiter'> = { system: 'shell', pager: 'shell', edit: 'shell', tee: 'write', source: 'read', delimiter: 'delimiter' };

function mysql(ctx: LayerContext & { args: readonly string[] }, out: Findings): void {
  const { args, layer: { name } } = ctx;
  const parsed = parseArgs(args, {
    values: ['-e', '--execute', '-u', '--user', '-h', '--host', '-P', '--port', '-S', '--socket', '-D', '--database', '--default-character-set', '--protocol', '--ssl-ca', '--ssl-cert', '--ssl-key', '--ssl-mode', '--connect-timeout', '--max-allowed-packet', '--net-buffer-length', '--prompt', '--init-command', '--tee', '--plugin-dir', '--default-auth', '--defaults-file', '--defaults-extra-file', '--delimiter'],
    attached: ['-p', '--password', '--pager'],
  });
  const scan = (text: string) => mysqlInput(name, text, out);
  for (const option of parsed.options) {
    if (option.name === '--pager' && option.value !== undefined) out.deny('command.exec-option', 'high', `${name} --pager=${option.value} pipes the output through a program`);
    if (['--plugin-dir', '--default-auth'].includes(option.name)) out.deny('command.exec-option', 'high', `${name} ${option.name} loads a client plugin (a shared library)`);
    if (option.name === '--delimiter') out.deny('command.exec-option', 'high', `${name} --delimiter changes how its input is split into commands, which the rules then cannot follow`);
    if (option.name === '--tee' && option.value !== undefined) out.path('write', option.value, `${name} --tee`);
    if (['--defaults-file', '--defaults-extra-file', '--ssl-ca', '--ssl-cert', '--ssl-key'].includes(option.name) && option.value !== undefined) out.path('read', option.value, `${name} ${option.name}`);
  }
  const commands = optionValues(parsed, '-e', '--execute');
  [...commands, ...optionValues(parsed, '--init-command')].forEach(scan);
  if (commands.length === 0 && !hasAny(parsed, '-V', '--version', '-?', '--help')) commandsFromStdin(name, ctx, scan, out);
}

function mysqlInput(name: string, text: string, out: Findings): void {
  const code = outsideStrings(text, mysqlStrings);
  if (/\binto\s+(outfile|dumpfile)\b/i.test(code)) out.deny('command.exec-option', 'high', `${name}: SELECT … INTO OUTFILE writes a file on the database host, unseen by the path rules`);
  if (/\bload\s+(data|xml)\s+(low_priority\s+|concurrent\s+)?local\b/i.test(code)) out.deny('command.exec-option', 'high', `${name}: LOAD DATA LOCAL reads a client file the path rules do not see`);
  const uses: { kind: 'shell' | 'write' | 'read' | 'delimiter'; what: string; rest: string }[] = [];
  for (const match of code.matchAll(/\\(.)/g)) {
    const kind = MYSQL_SHORT[match[1]!];
    if (kind) uses.push({ kind, what: match[0], rest: restOfLine(text, match.index + 2) });
  }
  // Long forms count at the start of a line or a statement (after `;`, `\g` or `\G`).
  for (const match of code.matchAll(/(^|[\n;]|\\[gG])\s*([A-Za-z]+)\b/g)) {
    const kind = MYSQL_NAMED[match[2]!.toLowerCase()];
    if (kind) uses.push({ kind, what: match[2]!, rest: restOfLine(text, match.index + match[0].length) });
  }
  for (const { kind, what, rest } of uses) {
    const file = unquote(rest.trim().split(/\s+/)[0]?.replace(/;$/, '') ?? '');
    if (kind === 'shell') out.deny('command.inline-code', 'high', `${name} ${what} runs a shell command, a pager or an editor`);
    else if (kind === 'delimiter') out.deny('command.exec-option', 'high', `${name} ${what} changes how its input is split into commands, which the rules then cannot follow`);
    else if (file !== '') out.path(kind, file, `${name} ${what}`);
  }
}

// ---------------------------------------------------------------------------
// sqlite3

type DotUse = { use: 'read' | 'write'; arg: 'first' | 'last' } | { use: 'shell' } | { use: 'refuse'; why: string };

const DOT_COMMANDS: Record<string, DotUse> = {
  output: { use: 'write', arg: 'first' },
  once: { use: 'write', arg: 'first' },
  log: { use: 'write', arg: 'first' },
  trace: { use: 'write', arg: 'first' },
  iotrace: { use: 'write', arg: 'first' },
  save: { use: 'write', arg: 'last' },
  backup: { use: 'write', arg: 'last' },
  clone: { use: 'write', arg: 'first' },
  open: { use: 'write', arg: 'last' },
  import: { use: 'read', arg: 'first' },
  read: { use: 'read', arg: 'first' },
  restore: { use: 'read', arg: 'last' },
  shell: { use: 'shell' },
  system: { use: 'shell' },
  excel: { use: 'shell' },
  load: { use: 'refuse', why: 'loads an extension (a shared library)' },
  cd: { use: 'refuse', why: 'changes the directory later file names are resolved against' },
  archive: { use: 'refuse', why: 'extracts and adds files the rules do not see' },
  ar: { use: 'refuse', why: 'extracts and adds files the rules do not see' },
};
/** Options of dot-commands that take a value (`.import --skip 1 FILE TABLE`). */
const DOT_OPTION_VALUES = new Set(['--skip', '--schema', '--maxsize', '--limit']);
const DOT_SAFE = new Set(['auth', 'bail', 'binary', 'changes', 'check', 'connection', 'crnl', 'databases', 'dbconfig', 'dbinfo', 'dump', 'echo', 'eqp', 'exit', 'expert', 'explain', 'fullschema', 'headers', 'header', 'help', 'imposter', 'indexes', 'indices', 'limit', 'lint', 'mode', 'nonce', 'nullvalue', 'parameter', 'print', 'progress', 'prompt', 'quit', 'recover', 'scanstats', 'schema', 'separator', 'sha3sum', 'show', 'stats', 'tables', 'timeout', 'timer', 'unmodule', 'vfsinfo', 'vfslist', 'vfsname', 'width']);
/** SQL functions of the sqlite3 shell that reach the file system, an editor or a library. */
const SQLITE_FUNCTIONS: Record<string, { rule: string; why: string }> = {
  edit: { rule: 'command.inline-code', why: 'runs an editor command line' },
  load_extension: { rule: 'command.exec-option', why: 'loads a shared library' },
  writefile: { rule: 'command.exec-option', why: 'writes a file the path rules do not see' },
  readfile: { rule: 'command.exec-option', why: 'reads a file the path rules do not see' },
  fsdir: { rule: 'command.exec-option', why: 'lists directories the path rules do not see' },
  zipfile: { rule: 'command.exec-option', why: 'reads or writes zip files the path rules do not see' },
};

function sqlite3(ctx: LayerContext & { args: readonly string[] }, out: Findings): void {
  const { args, layer: { name } } = ctx;
  const parsed = sqliteArgs(args);
  const option = (o: string) => parsed.options.some((p) => p.name === o);
  if (parsed.options.some((o) => o.name.startsWith('-A'))) out.deny('command.exec-option', 'high', `${name} -A extracts and adds archive files the rules do not see`);
  for (const file of optionValues(parsed, '-init')) out.path('read', file, `${name} -init script`);
  const [database, ...input] = parsed.operands;
  if (database !== undefined) out.path(option('-readonly') ? 'read' : 'write', database, `${name} database`);
  // -safe: the shell itself refuses everything below (shell, files, extensions, ATTACH).
  const scan = option('-safe') ? () => undefined : (text: string) => sqliteInput(name, text, out);
  [...optionValues(parsed, '-cmd'), ...input].forEach(scan);
  if (input.length === 0 && !option('-version') && !option('-help')) commandsFromStdin(name, ctx, scan, out);
}

const SQLITE_VALUES = new Set(['-cmd', '-init', '-separator', '-newline', '-nullvalue', '-vfs', '-maxsize', '-mmap', '-lookaside', '-pagecache', '-heap', '-escape', '-limit']);

/** sqlite3's options are whole words, with one dash or two; options and operands may mix. */
function sqliteArgs(args: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { options: [], operands: [], firstOperandIndex: args.length };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg.length === 1) {
      parsed.operands.push(arg);
      continue;
    }
    const name = arg.startsWith('--') ? arg.slice(1) : arg;
    parsed.options.push(SQLITE_VALUES.has(name) && i + 1 < args.length ? { name, value: args[++i]! } : { name });
  }
  return parsed;
}

function sqliteInput(name: string, text: string, out: Findings): void {
  const sql: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trimStart().startsWith('.')) {
      sql.push(line);
      continue;
    }
    const [command = '', ...rest] = metaWords(line.trimStart().slice(1));
    const where = `${name} .${command}`;
    const known = DOT_COMMANDS[command];
    const files = rest.filter((w, i) => !w.startsWith('-') && !DOT_OPTION_VALUES.has(rest[i - 1] ?? ''));
    if (rest.some((w) => w.startsWith('|')) || (['output', 'once'].includes(command) && rest.some((w) => /^-[ewx]$/.test(w)))) {
      out.deny('command.inline-code', 'high', `${where} ${rest.join(' ')} runs a program`);
    } else if (known?.use === 'shell') {
      out.deny('command.inline-code', 'high', `${where} runs a shell command`);
    } else if (known?.use === 'refuse') {
      out.deny('command.exec-option', 'high', `${where} ${known.why}`);
    } else if (known?.use === 'read' || known?.use === 'write') {
      const file = known.arg === 'first' ? files[0] : files.at(-1);
      const readOnly = command === 'open' && rest.includes('--readonly');
      if (file !== undefined && !/^(off|stdout|stderr)$/.test(file)) out.path(readOnly ? 'read' : known.use, file, where);
    } else if (!DOT_SAFE.has(command)) {
      out.deny('command.exec-option', 'high', `${where} is not a dot-command the rules know`);
    }
  }
  sqliteSql(name, sql.join('\n'), out);
}

function sqliteSql(name: string, text: string, out: Findings): void {
  const code = outsideStrings(text, sqliteStrings);
  // A function name may be written as a quoted identifier ("writefile"(…)), so only '…' strings are blanked here.
  const calls = outsideStrings(text, [/'(?:[^']|'')*'/g]);
  for (const match of calls.matchAll(/(?:\b|["`[])([A-Za-z_]+)["`\]]?\s*\(/g)) {
    const fn = SQLITE_FUNCTIONS[match[1]!.toLowerCase()];
    if (fn) out.deny(fn.rule, 'high', `${name}: ${match[1]}() ${fn.why}`);
  }
  // ATTACH and VACUUM INTO create or write the database file they name.
  for (const match of code.matchAll(/\b(attach(?:\s+database)?|vacuum(?:\s+\w+)?\s+into)\s+/gi)) {
    const at = match.index + match[0].length;
    const literal = /^('(?:[^']|'')*'|"(?:[^"]|"")*")\s*(?:as\b|;|$)/i.exec(text.slice(at));
    if (literal === null) out.deny('command.exec-option', 'high', `${name}: ${match[1]} with a computed file name writes a file the rules cannot see`);
    else out.path('write', unquote(literal[1]!), `${name} ${match[1]!.split(/\s+/)[0]!.toUpperCase()}`);
  }
}

// ---------------------------------------------------------------------------
// shared

function hasAny(parsed: ParsedArgs, ...names: string[]): boolean {
  return parsed.options.some((o) => names.includes(o.name));
}

/** A file named by a client command: a path, or `|command`, which runs the command. */
function fileTarget(name: string, what: string, target: string, use: 'read' | 'write', out: Findings): void {
  const file = unquote(target);
  if (file.startsWith('|')) out.deny('command.inline-code', 'high', `${name} ${what} ${file} pipes output into a shell command`);
  else out.path(use, file, `${name} ${what}`);
}

/** Whitespace-separated words with '…' and "…" quoting, as the clients read command arguments. */
function metaWords(text: string): string[] {
  return [...text.matchAll(/'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|\|.*$|\S+/g)].map((m) => unquote(m[0]));
}

function unquote(word: string): string {
  if (/^'.*'$/s.test(word)) return word.slice(1, -1).replaceAll("''", "'");
  if (/^".*"$/s.test(word)) return word.slice(1, -1);
  return word;
}

function restOfLine(text: string, from: number): string {
  const end = text.indexOf('\n', from);
  return end === -1 ? text.slice(from) : text.slice(from, end);
}

/** String literal patterns of each dialect; with and without backslash escapes, as the server may read either. */
const psqlStrings = [/[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\$(\w*)\$[\s\S]*?\$\1\$/g, /'(?:[^'\\]|\\.|'')*'|\$(\w*)\$[\s\S]*?\$\1\$/g];
const mysqlStrings = [/'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`[^`]*`/g, /'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`/g];
const sqliteStrings = [/'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]/g];

/**
 * The text with the insides of string literals blanked (same length, so positions
 * still match the original). Where a dialect may or may not read backslashes as escapes, both
 * readings are blanked and a character survives if it is code in either: what one
 * reading hides inside a string the other sees.
 */
function outsideStrings(text: string, patterns: readonly RegExp[]): string {
  // The quotes stay, so a literal still reads as one word where it stood.
  const readings = patterns.map((pattern) => text.replace(pattern, (m) => m[0]! + m.slice(1, -1).replace(/[^\n]/g, ' ') + m.at(-1)!));
  return text.split('').map((ch, i) => (readings.some((r) => r[i] !== ' ') ? ch : ' ')).join('');
}
