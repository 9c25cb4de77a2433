import type { Findings } from './command-findings.js';
import { optionValues, parseArgs } from './command-options.js';
import type { LayerContext } from './command-rules.js';
import { looksLikePath } from './command-rules.js';

/**
 * Shells and interpreters may run a script file from the workspace. They may not
 * be handed code inline (`-c`, `-e`, `--eval` …), through a pipe, a here-document
 * or a here-string — that is how download-and-execute and decode-and-execute
 * work — and, unless the profile allows it, may not start as an interactive REPL.
 */

interface InterpreterSpec {
  /** Short option letters that mean "the code is the next argument" (also inside clusters). */
  inlineShort?: string;
  inlineLong?: readonly string[];
  /** Options that take a value (so the value is not mistaken for the script). */
  values?: readonly string[];
  /** Options whose value can only be attached (`-xdir`, `-Mmodule`): the next word is never theirs. */
  attached?: readonly string[];
  /** Options after which no script file is needed (python -m module). */
  programOptions?: readonly string[];
  /** Sub-commands that evaluate code or open a REPL (deno eval). */
  inlineSubcommands?: readonly string[];
  /** Module-loading options whose value must not be inline code (node --import data:…). */
  loaderOptions?: readonly string[];
  /** Modules (`python -m`) that evaluate code from their arguments, open a REPL or run other modules. */
  codeModules?: readonly string[];
  /** Modules (`python -m`) that listen for network connections. */
  listenerModules?: readonly string[];
}

const PYTHON_CODE_MODULES = ['timeit', 'code', 'pdb', 'asyncio', 'idlelib', 'IPython', 'ptpython', 'bpython', 'cProfile', 'profile', 'trace', 'runpy'];
const PYTHON_LISTENER_MODULES = ['http.server', 'smtpd', 'aiosmtpd', 'wsgiref.simple_server', 'xmlrpc.server'];

const SHELL: InterpreterSpec = {
  inlineShort: 'c',
  inlineLong: ['--command', '--rcfile', '--init-file'],
  values: ['-o', '+o', '-O', '+O'],
};

const SPECS: Record<string, InterpreterSpec> = {
  python: { inlineShort: 'c', values: ['-W', '-X', '-Q', '-m'], programOptions: ['-m'], codeModules: PYTHON_CODE_MODULES, listenerModules: PYTHON_LISTENER_MODULES },
  pypy: { inlineShort: 'c', values: ['-W', '-X', '-m'], programOptions: ['-m'], codeModules: PYTHON_CODE_MODULES, listenerModules: PYTHON_LISTENER_MODULES },
  pypy3: { inlineShort: 'c', values: ['-W', '-X', '-m'], programOptions: ['-m'], codeModules: PYTHON_CODE_MODULES, listenerModules: PYTHON_LISTENER_MODULES },
  node: {
    inlineShort: 'ep',
    inlineLong: ['--eval', '--print'],
    values: ['-r', '--require', '--import', '--loader', '--experimental-loader', '--input-type', '-C', '--conditions', '--env-file', '--title'],
    loaderOptions: ['-r', '--require', '--import', '--loader', '--experimental-loader'],
    inlineSubcommands: ['inspect'],
  },
  nodejs: { inlineShort: 'ep', inlineLong: ['--eval', '--print'], values: ['-r', '--require', '--import'] },
  deno: { inlineShort: '', inlineSubcommands: ['eval', 'repl', 'jupyter'], values: [] },
  bun: { inlineShort: 'ep', inlineLong: ['--eval', '--print'], inlineSubcommands: ['repl', 'x'], values: [] },
  // perl -0/-l take only attached digits and -d continues the cluster (`-lne`, `-de 0`
  // hold -e), so they are plain flags here; -x, -D, -C, -M, -m take the rest of the word.
  perl: { inlineShort: 'eE', values: ['-I'], attached: ['-x', '-D', '-C', '-M', '-m'] },
  ruby: { inlineShort: 'e', values: ['-I', '-r', '-C', '-E'], attached: ['-F', '-x'] },
  irb: { inlineShort: '' },
  php: { inlineShort: 'rBREa', values: ['-c', '-d', '-z', '-t'], programOptions: ['-f', '-S', '-l', '-s', '-v', '-i', '-m'] },
  lua: { inlineShort: 'e', values: ['-l'] },
  luajit: { inlineShort: 'e', values: ['-l', '-j', '-O'] },
  tclsh: {},
  wish: {},
  expect: { inlineShort: 'c', values: ['-f'] },
  rscript: { inlineShort: 'e' },
  r: { inlineShort: 'e', inlineLong: ['--args'] },
  julia: { inlineShort: 'eE', inlineLong: ['--eval', '--print'] },
  jshell: {},
  groovy: { inlineShort: 'e' },
  scala: { inlineShort: 'e' },
  guile: { inlineShort: 'c' },
  racket: { inlineShort: 'e', inlineLong: ['--eval', '--require-script'] },
  sbcl: { inlineLong: ['--eval'] },
  clisp: { inlineShort: 'x' },
  ghci: { inlineShort: 'e' },
  runghc: {},
  erl: { inlineLong: ['-eval', '-s', '-run'] },
  escript: {},
  elixir: { inlineShort: 'e', inlineLong: ['--eval'] },
  iex: {},
  osascript: { inlineShort: 'e' },
  qjs: { inlineShort: 'e', inlineLong: ['--eval'] },
  jjs: {},
};

export function interpreterRule(ctx: LayerContext, group: string, out: Findings): void {
  const { name, argv } = ctx.layer;
  const args = argv.slice(1);
  if (group === 'awk') {
    awkRule(name, args, ctx, out);
    return;
  }
  const spec = group === 'shells' ? SHELL : (SPECS[name] ?? {});
  // Shells read `+c`/`+xc` like `-c`; node reads `_` like `-` in option names.
  const spelled = args.map((a) => (group === 'shells' && /^\+[A-Za-z]+$/.test(a) ? `-${a.slice(1)}` : name === 'node' && a.startsWith('--') ? a.replace(/^(--[^=]*)/, (m) => m.replaceAll('_', '-')) : a));
  const parsed = parseArgs(spelled, { values: [...(spec.values ?? []), ...(spec.programOptions ?? [])], attached: spec.attached ?? [], stopAtOperand: true });
  const inline = parsed.options.find(
    (o) =>
      (o.name.length === 2 && !o.name.startsWith('--') && (spec.inlineShort ?? '').includes(o.name[1]!)) ||
      (spec.inlineLong ?? []).includes(o.name),
  );
  if (inline) {
    out.deny('command.inline-code', 'high', `${name} ${inline.name} runs code given on the command line; put it in a script file in the workspace`);
    return;
  }
  for (const file of optionValues(parsed, '--env-file')) out.path('read', file, `${name} --env-file`);
  for (const value of optionValues(parsed, ...(spec.loaderOptions ?? []))) {
    if (/^(data|https?|file):/i.test(value)) {
      out.deny('command.inline-code', 'high', `${name} loads code from ${JSON.stringify(value.slice(0, 40))}`);
      return;
    }
  }
  if (name === 'perl') {
    const injected = parsed.options.find((o) => (o.name === '-M' || o.name === '-m') && /[^A-Za-z0-9:_=,-]/.test(o.value ?? ''));
    if (injected) {
      out.deny('command.inline-code', 'high', `perl ${injected.name} with ${JSON.stringify(injected.value)} injects code`);
      return;
    }
  }
  const isModule = (module: string, list: readonly string[] | undefined) => (list ?? []).some((m) => module === m || module.startsWith(`${m}.`));
  for (const module of optionValues(parsed, '-m')) {
    if (isModule(module, spec.codeModules)) {
      out.deny('command.inline-code', 'high', `${name} -m ${module} evaluates code from its arguments, opens a REPL or runs other code`);
      return;
    }
    if (isModule(module, spec.listenerModules)) {
      out.deny('command.reverse-shell', 'high', `${name} -m ${module} listens for network connections`);
      return;
    }
  }
  const subcommand = parsed.operands[0];
  if (subcommand !== undefined && spec.inlineSubcommands?.includes(subcommand)) {
    out.deny('command.inline-code', 'high', `${name} ${subcommand} evaluates code or opens a REPL`);
    return;
  }
  const hasProgram = parsed.options.some((o) => spec.programOptions?.includes(o.name));
  const script = hasProgram ? undefined : parsed.operands[0];
  const readsStdin =
    script === '-' ||
    script === '/dev/stdin' ||
    (group === 'shells' && parsed.options.some((o) => o.name === '-s' || o.name === '-i'));
  if (script !== undefined && !readsStdin) {
    out.path('read', script, `${name} script`);
    for (const arg of parsed.operands.slice(1)) if (looksLikePath(arg)) out.path('read', arg, `argument of ${script}`);
    return;
  }
  if (hasProgram) {
    // `python -m tokenize .env`: a module's arguments are usually its files.
    for (const arg of parsed.operands) out.path('read', arg, `argument of ${name} -m`);
    return;
  }
  // `node --version`, `python3 -V`: they print and exit, reading no code.
  if (parsed.options.some((o) => INFO_OPTIONS.has(o.name) || (name === 'node' && (o.name === '-v' || o.name === '-h')))) return;
  codeFromStdin(name, ctx, out);
}

const INFO_OPTIONS = new Set(['--version', '--help', '-V']);

/** No script named: the code would come from standard input. */
function codeFromStdin(name: string, ctx: LayerContext, out: Findings): void {
  if (ctx.stdinFromPipe) {
    out.deny('command.pipe-to-interpreter', 'critical', `piping into ${name} runs whatever the previous command prints as code`);
  } else if (ctx.stdinText) {
    out.deny('command.heredoc-interpreter', 'high', `a here-document or here-string into ${name} is inline code`);
  } else if (ctx.stdinFile) {
    // `sh < script.sh` runs a file, like `sh script.sh`; the redirect is path-checked.
  } else if (!ctx.interactiveAllowed) {
    out.deny('command.interactive-interpreter', 'medium', `${name} without a script would read code from standard input; this profile does not start shells or REPLs`);
  }
}

function awkRule(name: string, args: readonly string[], ctx: LayerContext, out: Findings): void {
  const parsed = parseArgs(args, { values: ['-F', '-v', '-f', '--file', '--field-separator', '--assign', '-l', '--load', '-E', '--exec', '-i', '--include', '-e', '--source'] });
  const loads = parsed.options.find((o) => ['-l', '--load', '-E', '--exec'].includes(o.name));
  if (loads) {
    out.deny('command.inline-code', 'high', `${name} ${loads.name} loads an extension or executable program`);
    return;
  }
  const files = optionValues(parsed, '-f', '--file', '-i', '--include');
  for (const file of files) out.path('read', file, `${name} program file`);
  // gawk's -e/--source program text may be given alongside -f files; each piece is judged.
  const sources = optionValues(parsed, '-e', '--source');
  const named = files.length > 0 || sources.length > 0;
  const operands = named ? parsed.operands : parsed.operands.slice(1);
  const programs = named ? sources : parsed.operands.slice(0, 1);
  for (const program of programs) {
    const problem = awkProgramProblem(program);
    if (problem) {
      out.deny('command.awk-exec', 'high', `the ${name} program ${problem}`);
      return;
    }
  }
  if (!named && programs.length === 0) {
    codeFromStdin(name, ctx, out);
    return;
  }
  for (const operand of operands) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(operand)) out.path('read', operand, `${name} input`);
}

/**
 * awk programs are a language of their own; this looks for the three ways one
 * reaches outside: system(), pipes to or from commands, and output redirection to
 * files. String and regex literals are blanked first so text inside them does
 * not count.
 */
export function awkProgramProblem(program: string): string | undefined {
  const withoutStrings = program.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // A division can look like the start of a regex literal (`1 /2; system(…); 0/1`), so
  // calls are looked for with regex literals both blanked and kept.
  const code = withoutStrings.replace(/(^|[(,~!&|{;\s])\/(?:[^/\\\n]|\\.)+\//g, '$1//');
  if (/\bsystem\s*\(/.test(code) || /\bsystem\s*\(/.test(withoutStrings)) return 'calls system()';
  if (/\bgetline\b[^;}\n]*</.test(withoutStrings)) return 'reads a file (getline < file)';
  if (/\|\s*&?\s*getline\b/.test(code) || /\|&/.test(code)) return 'reads from a command (| getline)';
  if (/\b(print|printf)\b[^;}\n]*\|/.test(code)) return 'pipes output to a command';
  if (/\b(print|printf)\b[^;}\n]*>/.test(code)) return 'writes to a file (print > file)';
  if (/@load|@include/.test(code)) return 'loads an extension';
  // gawk indirect calls (`f = "system"; @f("id")`) can reach system() by a name held in a string.
  if (/@[A-Za-z_][A-Za-z0-9_]*\s*\(/.test(code)) return 'calls a function indirectly (@name())';
  return undefined;
}
