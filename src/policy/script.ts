/**
 * The normalised form of a command line: what the policy judges and exactly what
 * the guarded executor runs. Words are final strings (quotes removed, globs
 * expanded); nothing in here is ever handed to a shell.
 */

/** A redirection of one file descriptor of a stage. */
export type Redirect =
  /** `<`, `>`, `>>`, `&>`, `&>>`: open `path` (relative to the cwd) for the fd. */
  | { kind: 'file'; fd: number; mode: 'read' | 'write' | 'append'; path: string; bothStdoutAndStderr?: boolean }
  /** `2>&1`, `>&2`: make `fd` a copy of `target`. */
  | { kind: 'dup'; fd: number; target: number }
  /** `<<<word` (here-string) and quoted here-documents: literal text on `fd`. */
  | { kind: 'text'; fd: number; text: string };

/** One simple command: `NAME=value … argv… redirections`. */
export interface Stage {
  argv: string[];
  /** Environment assignments written before the command (`FOO=1 cmd`). */
  env: Record<string, string>;
  redirects: Redirect[];
}

/** Stages joined by `|`; `negated` for a leading `!`. */
export interface Pipeline {
  stages: Stage[];
  negated: boolean;
}

/** How an item of a list is joined to the one before it (`;` for the first). */
export type Connector = ';' | '&&' | '||';

export interface ScriptItem {
  connector: Connector;
  pipeline: Pipeline;
}

/** A whole command line: a list of pipelines. */
export interface Script {
  items: ScriptItem[];
}

/** Every stage of a script, in order. */
export function stagesOf(script: Script): Stage[] {
  return script.items.flatMap((item) => item.pipeline.stages);
}
