import type { Connector } from './script.js';

/**
 * What the shell parser produces: the command line as lists of pipelines of simple
 * commands, each word kept in parts that remember whether quoting protected them
 * (globs and `~` only expand where they did not).
 */

/** A piece of a word and whether quoting protected it from globbing and tilde. */
export interface WordPart {
  text: string;
  quoted: boolean;
}

export interface RawWord {
  parts: WordPart[];
}

export type RawRedirect =
  | { kind: 'file'; fd: number; op: '<' | '>' | '>>' | '&>' | '&>>'; target: RawWord }
  | { kind: 'dup'; fd: number; target: number }
  | { kind: 'text'; fd: number; text: string; source: 'heredoc' | 'herestring' };

export interface RawStage {
  assignments: { name: string; value: RawWord }[];
  words: RawWord[];
  redirects: RawRedirect[];
}

export interface RawPipeline {
  stages: RawStage[];
  negated: boolean;
}

export interface RawScript {
  items: { connector: Connector; pipeline: RawPipeline }[];
}

export type ParseOutcome =
  | { ok: true; script: RawScript }
  | { ok: false; rule: string; reason: string };

/** Thrown inside the walker; turned into a ParseOutcome at the edge. */
export class Refusal extends Error {
  constructor(
    readonly rule: string,
    reason: string,
  ) {
    super(reason);
  }
}

export function wordText(word: RawWord): string {
  return word.parts.map((p) => p.text).join('');
}

export function isUnquoted(word: RawWord): boolean {
  return word.parts.every((p) => !p.quoted);
}

/** True when an unquoted `*`, `?` or `[` would make the shell expand the word. */
export function hasUnquotedGlob(word: RawWord): boolean {
  return word.parts.some((p) => !p.quoted && /[*?[]/.test(p.text));
}

/** True when the word starts with an unquoted `~` (home-directory expansion). */
export function hasTildePrefix(word: RawWord): boolean {
  const first = word.parts[0];
  return first !== undefined && !first.quoted && first.text.startsWith('~');
}
