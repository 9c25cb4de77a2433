import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { Language, Parser, type Node } from 'web-tree-sitter';
import type { Connector } from './script.js';
import { Refusal, type ParseOutcome, type RawPipeline, type RawRedirect, type RawScript, type RawStage, type RawWord, wordText, isUnquoted } from './raw-script.js';
import { decodeAnsiC, refuseBraceExpansion, unescapeDoubleQuoted, unescapeUnquoted } from './shell-quoting.js';
import { deepFreeze } from '../core/index.js';

/**
 * Command lines are parsed by tree-sitter-bash (a real grammar, never regular
 * expressions) into a small, closed subset of the shell language: lists of
 * pipelines of simple commands with redirections. Everything outside that subset
 * (substitutions, expansions, functions, loops, subshells, background jobs …) is
 * refused rather than approximated, because ironcode runs the parsed form itself
 * and must never run something it did not fully understand.
 */

const SUBSTITUTIONS: Record<string, string> = {
  command_substitution: 'command substitution ($(…) or `…`)',
  process_substitution: 'process substitution (<(…) or >(…))',
  arithmetic_expansion: 'arithmetic expansion ($((…)))',
};
const EXPANSIONS: Record<string, string> = {
  simple_expansion: 'variable expansion ($NAME)',
  expansion: 'parameter expansion (${…})',
};
const UNSUPPORTED: Record<string, string> = {
  subshell: 'subshells ( … )',
  compound_statement: 'command groups { …; }',
  if_statement: 'if statements',
  while_statement: 'while loops',
  for_statement: 'for loops',
  c_style_for_statement: 'for loops',
  case_statement: 'case statements',
  function_definition: 'function definitions',
  test_command: '[[ … ]] tests',
  declaration_command: 'declarations (export, declare, local, readonly)',
  unset_command: 'unset',
  variable_assignments: 'assignments without a command',
  variable_assignment: 'assignments without a command',
  brace_expression: 'brace expansion ({a..b})',
  translated_string: 'locale strings ($"…")',
  extglob_pattern: 'extended globs',
  array: 'arrays',
  subscript: 'array subscripts',
};

let parser: Parser | undefined;
let loading: Promise<Parser> | undefined;

/** Loads the grammar once; later calls are synchronous via `parseCommandLine`. */
export function loadShellParser(): Promise<Parser> {
  loading ??= (async () => {
    // TurboFan needs ~0.7 s to optimise tree-sitter-bash's huge lexer function and
    // stalls the first parse that triggers it; Liftoff's baseline code parses a
    // command line in well under a millisecond, so optimising never pays off here.
    // Set before the modules are compiled; ironcode loads no other WebAssembly.
    v8.setFlagsFromString('--liftoff-only');
    await Parser.init();
    const require = createRequire(import.meta.url);
    const wasm = require.resolve('tree-sitter-bash/tree-sitter-bash.wasm');
    const language = await Language.load(wasm);
    const instance = new Parser();
    instance.setLanguage(language);
    parser = instance;
    return instance;
  })();
  return loading;
}

/**
 * Parsing is a pure function of the line, and agents repeat lines (`npm test`,
 * `git status`) all the time, so recent outcomes are kept. Only the parse is
 * cached: normalisation and every rule still run against the file system each time.
 * Outcomes are frozen so no caller can change a cached one.
 */
const PARSE_CACHE_ENTRIES = 1024;
const PARSE_CACHE_MAX_LINE = 4096;
const parseCache = new Map<string, ParseOutcome>();

export function parseCommandLine(line: string): ParseOutcome {
  const cached = parseCache.get(line);
  if (cached !== undefined) {
    parseCache.delete(line);
    parseCache.set(line, cached);
    return cached;
  }
  const outcome = deepFreeze(parseUncached(line));
  if (line.length <= PARSE_CACHE_MAX_LINE) {
    if (parseCache.size >= PARSE_CACHE_ENTRIES) parseCache.delete(parseCache.keys().next().value!);
    parseCache.set(line, outcome);
  }
  return outcome;
}

function parseUncached(line: string): ParseOutcome {
  if (!parser) throw new Error('loadShellParser() must finish before parseCommandLine()');
  if (line.includes('\0')) return { ok: false, rule: 'command.nul-byte', reason: 'the command line contains a NUL byte' };
  if (line.trim() === '') return { ok: false, rule: 'command.empty', reason: 'the command line is empty' };
  const tree = parser.parse(line);
  if (!tree) return { ok: false, rule: 'command.parse-error', reason: 'the command line could not be parsed' };
  try {
    const root = tree.rootNode;
    if (root.hasError) {
      throw new Refusal('command.parse-error', `the command line is not valid shell syntax near: ${errorExcerpt(root)}`);
    }
    return { ok: true, script: walkProgram(root) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, rule: error.rule, reason: error.message };
    throw error;
  } finally {
    tree.delete();
  }
}

function errorExcerpt(root: Node): string {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.type === 'ERROR' || node.isMissing) return JSON.stringify(node.text.slice(0, 40) || node.type);
    stack.push(...node.children.filter((c): c is Node => c !== null).reverse());
  }
  return JSON.stringify(root.text.slice(0, 40));
}

function walkProgram(root: Node): RawScript {
  const items: RawScript['items'] = [];
  for (const child of children(root)) {
    if (!child.isNamed) {
      if (child.type === '&') throw new Refusal('command.background', 'background jobs (&) are not run; use a process session instead');
      continue; // `;` and newlines separate statements
    }
    if (child.type === 'comment') continue;
    walkList(child, ';', items);
  }
  return { items };
}

/** `a && b || c` nests to the left; flatten it keeping each connector. */
function walkList(node: Node, connector: Connector, out: RawScript['items']): void {
  const parts = children(node);
  const tail = parts.at(-1);
  if (node.type === 'pipeline' && tail?.type === 'list') {
    // tree-sitter-bash reads `a | b | c && d` as `a | (b | c && d)`; in the shell `|`
    // binds tighter, so the leading stages belong to the list's first pipeline.
    const head = walkPipelineParts(parts.slice(0, -1));
    const start = out.length;
    walkList(tail, connector, out);
    const first = out[start];
    if (!first || first.pipeline.negated) throw new Refusal('command.unsupported-syntax', 'unexpected ! inside a pipeline');
    first.pipeline = { stages: [...head.stages, ...first.pipeline.stages], negated: head.negated };
    return;
  }
  if (node.type !== 'list') {
    out.push({ connector, pipeline: walkPipeline(node) });
    return;
  }
  let next: Connector = connector;
  for (const part of parts) {
    if (part.type === '&&' || part.type === '||') next = part.type;
    else if (part.type === 'comment') continue;
    else if (part.isNamed) {
      walkList(part, next, out);
      next = ';';
    } else throw new Refusal('command.unsupported-syntax', `unexpected ${JSON.stringify(part.type)} in a list`);
  }
}

function walkPipeline(node: Node): RawPipeline {
  if (node.type === 'negated_command') {
    const inner = children(node).filter((c) => c.isNamed);
    if (inner.length !== 1) throw new Refusal('command.unsupported-syntax', 'unexpected form after !');
    const pipeline = walkPipeline(inner[0]!);
    return { stages: pipeline.stages, negated: !pipeline.negated };
  }
  if (node.type === 'pipeline') return walkPipelineParts(children(node));
  return { stages: walkStages(node), negated: false };
}

/** The stages of a pipeline, from its child nodes (`|` and `|&` between them). */
function walkPipelineParts(parts: readonly Node[]): RawPipeline {
  const stages: RawStage[] = [];
  let negated = false;
  for (const part of parts) {
    if (part.type === '|') continue;
    if (part.type === '|&') {
      const last = stages.at(-1);
      if (last) last.redirects.push({ kind: 'dup', fd: 2, target: 1 });
      continue;
    }
    if (part.type === 'pipeline') {
      // after a here-document the grammar nests the rest (`cat <<EOF | a | b`)
      const inner = walkPipelineParts(children(part));
      if (inner.negated) throw new Refusal('command.unsupported-syntax', 'unexpected ! inside a pipeline');
      stages.push(...inner.stages);
      continue;
    }
    if (part.type === 'negated_command') {
      if (stages.length > 0) throw new Refusal('command.unsupported-syntax', '! may only start a pipeline');
      const inner = walkPipeline(part);
      negated = inner.negated;
      stages.push(...inner.stages);
      continue;
    }
    stages.push(...walkStages(part));
  }
  return { stages, negated };
}

/**
 * One element of a pipeline. Usually one stage, but tree-sitter hangs the rest of
 * a pipeline inside a here-document's redirect node (`cat <<EOF | wc`), and puts a
 * redirect that follows a whole pipeline around it; both are unfolded here.
 */
function walkStages(node: Node): RawStage[] {
  if (node.type === 'command') return [walkCommand(node)];
  if (node.type === 'redirected_statement') {
    const body = node.childForFieldName('body');
    const extra: RawStage[] = [];
    const redirects: RawRedirect[] = [];
    for (const part of children(node)) {
      if (part === body || part.id === body?.id) continue;
      if (part.type === 'comment') continue;
      redirects.push(...walkRedirect(part, extra));
    }
    if (!body) {
      throw new Refusal('command.unsupported-syntax', 'a redirection needs a command');
    }
    let stages: RawStage[];
    if (body.type === 'pipeline') {
      const pipeline = walkPipeline(body);
      if (pipeline.negated) throw new Refusal('command.unsupported-syntax', 'unexpected ! inside a pipeline');
      stages = pipeline.stages;
    } else stages = walkStages(body);
    // A redirect after a pipeline belongs to its last command, as in the shell.
    stages.at(-1)!.redirects.push(...redirects);
    return [...stages, ...extra];
  }
  throw refuseNode(node);
}

function walkCommand(node: Node): RawStage {
  const stage: RawStage = { assignments: [], words: [], redirects: [] };
  // The word (or assignment value) the next node may continue. The grammar splits
  // some single shell words (`'su'\do`, `x{\}`, `'a'\ b`), so what joins or
  // separates two nodes is decided here from the text between them, as the shell does.
  let open: RawWord | undefined;
  let joinNext = false;
  const addWord = (part: Node, push: (word: RawWord) => void): void => {
    const word = walkWord(part);
    if (joinNext && open !== undefined) {
      open.parts.push(...word.parts);
      refuseBraceExpansion(open.parts);
    } else {
      push(word);
      open = word;
    }
  };
  let previous: Node | undefined;
  for (const part of children(node)) {
    joinNext = false;
    if (previous !== undefined) {
      const gap = node.text.slice(previous.endIndex - node.startIndex, part.startIndex - node.startIndex).replace(/\\\n/g, '');
      if (gap.includes('\n')) {
        // `a | b | c\nd && e` comes back as the command `c d`; in the shell an
        // unescaped line break always ends the command.
        throw new Refusal('command.unsupported-syntax', 'a line break inside a command is not understood here; separate the commands with ;');
      }
      if (/^(\\.)+$/s.test(gap) && open !== undefined) {
        // escaped characters the grammar left out of the word: part of it
        open.parts.push({ text: gap.replace(/\\(.)/gs, '$1'), quoted: true });
        joinNext = true;
      } else if (gap === '') {
        joinNext = open !== undefined;
      } else if (!/^[ \t]+$/.test(gap)) {
        throw new Refusal('command.unsupported-syntax', `unsupported shell syntax: ${JSON.stringify(gap)} between words`);
      }
    }
    previous = part;
    switch (part.type) {
      case 'variable_assignment': {
        const assignment = walkAssignment(part);
        stage.assignments.push(assignment);
        open = assignment.value;
        break;
      }
      case 'command_name': {
        const inner = children(part).filter((c) => c.isNamed);
        if (inner.length !== 1) throw new Refusal('command.unsupported-syntax', 'unexpected command name');
        addWord(inner[0]!, (word) => stage.words.push(word));
        break;
      }
      case 'file_redirect':
      case 'herestring_redirect':
      case 'heredoc_redirect': {
        const extra: RawStage[] = [];
        stage.redirects.push(...walkRedirect(part, extra));
        if (extra.length > 0) throw new Refusal('command.unsupported-syntax', 'a here-document must end its command');
        open = undefined;
        break;
      }
      case 'comment':
        open = undefined;
        break;
      default:
        if (!part.isNamed) {
          throw new Refusal('command.unsupported-syntax', `unexpected ${JSON.stringify(part.type)} in a command`);
        }
        addWord(part, (word) => stage.words.push(word));
    }
  }
  if (stage.words.length === 0) {
    throw new Refusal('command.unsupported-syntax', 'assignments or redirections without a command are not run');
  }
  return stage;
}

function walkAssignment(node: Node): { name: string; value: RawWord } {
  const name = node.childForFieldName('name');
  if (!name || name.type !== 'variable_name') throw new Refusal('command.unsupported-syntax', `unsupported assignment ${node.text}`);
  for (const part of children(node)) {
    if (part.type === '+=') throw new Refusal('command.unsupported-syntax', 'appending assignments (+=) are not supported');
  }
  const value = node.childForFieldName('value');
  return { name: name.text, value: value ? walkWord(value) : { parts: [] } };
}

function walkRedirect(node: Node, trailingStages: RawStage[]): RawRedirect[] {
  if (node.type === 'herestring_redirect') {
    const word = children(node).find((c) => c.isNamed);
    if (!word) throw new Refusal('command.unsupported-syntax', 'empty here-string');
    return [{ kind: 'text', fd: 0, text: wordText(walkWord(word)) + '\n', source: 'herestring' }];
  }
  if (node.type === 'heredoc_redirect') return [walkHeredoc(node, trailingStages)];
  if (node.type !== 'file_redirect') throw refuseNode(node);

  const descriptorNode = children(node).find((c) => c.type === 'file_descriptor');
  const operator = children(node).find((c) => !c.isNamed)?.type ?? '';
  const destinations = children(node).filter((c) => c.isNamed && c.type !== 'file_descriptor');
  // As in walkCommand: pieces with no blank between them are one word.
  const joined = destinations.every((d, i) => i === 0 || d.startIndex === destinations[i - 1]!.endIndex);
  if (destinations.length === 0 || !joined) throw new Refusal('command.unsupported-syntax', `unsupported redirection ${node.text}`);
  const destination: RawWord = { parts: destinations.flatMap((d) => walkWord(d).parts) };
  const text = wordText(destination);
  const explicitFd = descriptorNode ? Number(descriptorNode.text) : undefined;

  switch (operator) {
    case '<':
      return [{ kind: 'file', fd: explicitFd ?? 0, op: '<', target: destination }];
    case '>':
    case '>|':
      return [{ kind: 'file', fd: explicitFd ?? 1, op: '>', target: destination }];
    case '>>':
      return [{ kind: 'file', fd: explicitFd ?? 1, op: '>>', target: destination }];
    case '&>':
      return [{ kind: 'file', fd: 1, op: '&>', target: destination }];
    case '&>>':
      return [{ kind: 'file', fd: 1, op: '&>>', target: destination }];
    case '>&':
    case '<&':
      if (/^\d+$/.test(text) && isUnquoted(destination)) {
        return [{ kind: 'dup', fd: explicitFd ?? (operator === '>&' ? 1 : 0), target: Number(text) }];
      }
      if (operator === '>&' && explicitFd === undefined && text !== '-') {
        return [{ kind: 'file', fd: 1, op: '&>', target: destination }];
      }
      throw new Refusal('command.unsupported-syntax', `unsupported redirection ${node.text}`);
    default:
      throw new Refusal('command.unsupported-syntax', `unsupported redirection operator ${JSON.stringify(operator)}`);
  }
}

/** Here-documents are passed as literal text; an unquoted one may not expand anything. */
function walkHeredoc(node: Node, trailingStages: RawStage[]): RawRedirect {
  let text = '';
  for (const part of children(node)) {
    switch (part.type) {
      case 'heredoc_body':
        for (const piece of children(part)) {
          if (piece.type !== 'heredoc_content') throw refuseNode(piece);
        }
        text = part.text;
        break;
      case 'pipeline':
        trailingStages.push(...walkPipelineParts(children(part)).stages);
        break;
      case 'command':
      case 'redirected_statement':
        trailingStages.push(...walkStages(part));
        break;
      case '<<':
      case '<<-':
      case 'heredoc_start':
      case 'heredoc_end':
      case '|':
        break;
      default:
        throw new Refusal('command.unsupported-syntax', 'a here-document must end its command line');
    }
  }
  // tree-sitter leaves the body without its final newline only when the input does.
  return { kind: 'text', fd: 0, text: text.endsWith('\n') ? text : text + '\n', source: 'heredoc' };
}

function walkWord(node: Node): RawWord {
  switch (node.type) {
    case 'word':
    case 'number':
      return { parts: unescapeUnquoted(node.text) };
    case 'raw_string':
      return { parts: [{ text: node.text.slice(1, -1), quoted: true }] };
    case 'string':
      return { parts: [{ text: doubleQuoted(node), quoted: true }] };
    case 'ansi_c_string':
      return { parts: [{ text: decodeAnsiC(node.text.slice(2, -1)), quoted: true }] };
    case 'concatenation': {
      const parts = children(node).flatMap((c) => walkWord(c).parts);
      refuseBraceExpansion(parts);
      return { parts };
    }
    default:
      throw refuseNode(node);
  }
}

function refuseNode(node: Node): Refusal {
  const sub = SUBSTITUTIONS[node.type];
  if (sub) return new Refusal('command.substitution', `${sub} is refused: what runs must be visible in the command line`);
  const exp = EXPANSIONS[node.type];
  if (exp) return new Refusal('command.expansion', `${exp} is not performed; write the value literally`);
  const unsupported = UNSUPPORTED[node.type];
  if (unsupported) return new Refusal('command.unsupported-syntax', `${unsupported} are not supported; run simple commands joined by |, &&, || or ;`);
  return new Refusal('command.unsupported-syntax', `unsupported shell syntax: ${node.type} (${JSON.stringify(node.text.slice(0, 40))})`);
}

/** The text of "…", once the grammar has shown it holds no expansion nodes. */
function doubleQuoted(node: Node): string {
  for (const part of children(node)) {
    if (part.isNamed && part.type !== 'string_content') throw refuseNode(part);
  }
  return unescapeDoubleQuoted(node.text.slice(1, -1));
}

function children(node: Node): Node[] {
  return node.children.filter((c): c is Node => c !== null);
}
