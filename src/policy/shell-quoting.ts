import { Refusal, type WordPart } from './raw-script.js';

/**
 * The shell's quoting rules for the parts of a word the grammar hands over as raw
 * text: backslashes outside quotes, escapes inside "…", and $'…' strings.
 */

/** Backslash outside quotes protects the next character; backslash-newline joins lines. */
export function unescapeUnquoted(raw: string): WordPart[] {
  const parts: WordPart[] = [];
  const push = (text: string, quoted: boolean): void => {
    const last = parts.at(-1);
    if (last && last.quoted === quoted) last.text += text;
    else parts.push({ text, quoted });
  };
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      const next = raw[++i]!;
      if (next !== '\n') push(next, true);
    } else if (ch === '\n') {
      // An unquoted line break always ends a command in the shell; the grammar folds
      // `a\n\\b` into one word, which would hide the second command inside the first.
      throw new Refusal('command.unsupported-syntax', 'a line that starts with a backslash is not understood here; separate the commands with ;');
    } else push(ch, false);
  }
  return parts;
}

/** Inside "…" only \$ \` \" \\ and backslash-newline are escapes. */
export function unescapeDoubleQuoted(inner: string): string {
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i]!;
    if (ch === '\\' && i + 1 < inner.length) {
      const next = inner[i + 1]!;
      if ('$`"\\'.includes(next)) {
        out += next;
        i++;
        continue;
      }
      if (next === '\n') {
        i++;
        continue;
      }
    }
    // Defence in depth: the grammar should have produced an expansion node.
    if (ch === '`' || (ch === '$' && /[A-Za-z_{(0-9@*#?$!-]/.test(inner[i + 1] ?? ''))) {
      throw new Refusal('command.expansion', 'expansions inside double quotes are not performed; use single quotes for literal text');
    }
    out += ch;
  }
  return out;
}

const ANSI_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\\': '\\', "'": "'", '"': '"', '?': '?',
};

export function decodeAnsiC(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i] ?? '';
    const simple = ANSI_ESCAPES[next];
    if (simple !== undefined) {
      out += simple;
      continue;
    }
    const numeric = /^(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3})/.exec(body.slice(i));
    if (numeric) {
      const digits = numeric[0];
      const code = /^[0-7]/.test(digits) ? parseInt(digits, 8) : parseInt(digits.slice(1), 16);
      if (code === 0) throw new Refusal('command.nul-byte', 'the command line contains an escaped NUL byte');
      if (code > 0x10ffff) throw new Refusal('command.unsupported-syntax', `\\${digits} is not a Unicode code point`);
      out += String.fromCodePoint(code);
      i += digits.length - 1;
      continue;
    }
    throw new Refusal('command.unsupported-syntax', `unsupported escape \\${next} in $'…'`);
  }
  return out;
}

export function refuseBraceExpansion(parts: readonly WordPart[]): void {
  const braces = parts.filter((p) => !p.quoted && (p.text === '{' || p.text === '}'));
  if (braces.length >= 2 && parts.some((p) => !p.quoted && /[,]|\.\./.test(p.text))) {
    throw new Refusal('command.brace-expansion', 'brace expansion ({a,b}) is not performed; write the words out');
  }
}
