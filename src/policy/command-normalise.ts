import { deny, type Decision } from './decision.js';
import { canonicalPath, type PathContext } from './paths.js';
import type { Redirect, Script, Stage } from './script.js';
import { hasTildePrefix, hasUnquotedGlob, wordText, type RawRedirect, type RawScript, type RawWord } from './raw-script.js';

/**
 * Turns the parsed command line into the exact form that will run: quotes
 * removed, globs expanded (by ironcode, against the real directory), redirect
 * targets made canonical and absolute, and every executable resolved to an
 * absolute path on a fixed search path. The rules then judge this form.
 */

export interface StageView {
  /** What will run; argv[0] is absolute when the executable was found. */
  stage: Stage;
  /** argv[0] as written, quotes removed. */
  written: string;
  /** Canonical path of the executable, or null when it was not found. */
  executable: string | null;
  /** Position in its pipeline. */
  position: number;
  pipelineLength: number;
  /** Standard input comes from a here-document or here-string. */
  stdinText: boolean;
  /** Standard input is redirected from a file. */
  stdinFile: boolean;
}

export type Normalised = { ok: true; script: Script; views: StageView[] } | { ok: false; decision: Decision };

class NormaliseRefusal extends Error {
  constructor(readonly decision: Decision) {
    super(decision.reason);
  }
}

export function normaliseScript(raw: RawScript, ctx: PathContext): Normalised {
  try {
    const views: StageView[] = [];
    const script: Script = {
      items: raw.items.map((item) => {
        const stages = item.pipeline.stages.map((rawStage, position) => {
          const written = literalWord(rawStage.words[0]!, 'command.glob-in-command');
          const executable = resolveExecutable(written, ctx);
          const args = rawStage.words.slice(1).flatMap((w) => expandWord(w, ctx));
          const env: Record<string, string> = {};
          for (const assignment of rawStage.assignments) env[assignment.name] = literalWord(assignment.value, 'command.glob-in-assignment');
          const redirects = normaliseRedirects(rawStage.redirects, ctx);
          const stage: Stage = { argv: [executable ?? written, ...args], env, redirects };
          views.push({
            stage,
            written,
            executable,
            position,
            pipelineLength: item.pipeline.stages.length,
            stdinText: redirects.some((r) => r.kind === 'text' && r.fd === 0),
            stdinFile: redirects.some((r) => r.kind === 'file' && r.fd === 0),
          });
          return stage;
        });
        return { connector: item.connector, pipeline: { stages, negated: item.pipeline.negated } };
      }),
    };
    return { ok: true, script, views };
  } catch (error) {
    if (error instanceof NormaliseRefusal) return { ok: false, decision: error.decision };
    throw error;
  }
}

/** A word that must not be expanded: the command name, assignment values. */
function literalWord(word: RawWord, globRule: string): string {
  const text = wordText(word);
  if (hasTildePrefix(word)) throw new NormaliseRefusal(tildeDecision(text));
  if (hasUnquotedGlob(word)) {
    throw new NormaliseRefusal(
      deny(globRule, 'high', `${JSON.stringify(text)} is a glob pattern where a command name or value must be literal`),
    );
  }
  return text;
}

function expandWord(word: RawWord, ctx: PathContext): string[] {
  const text = wordText(word);
  if (hasTildePrefix(word)) throw new NormaliseRefusal(tildeDecision(text));
  if (!hasUnquotedGlob(word)) return [text];
  const pattern = word.parts.map((p) => (p.quoted ? p.text.replace(/[*?[\]\\]/g, '\\$&') : p.text)).join('');
  const matches = ctx.host.glob(pattern, ctx.cwd);
  // As in the shell: a pattern that matches nothing stays as written.
  return matches.length > 0 ? matches : [text];
}

function tildeDecision(text: string): Decision {
  return deny('path.home', 'high', `${JSON.stringify(text)} refers to a home directory, which is outside the workspace (~ is not expanded)`);
}

function resolveExecutable(written: string, ctx: PathContext): string | null {
  const located = locateExecutable(written, ctx);
  if (!located.ok) throw new NormaliseRefusal(located.decision);
  return located.path;
}

/**
 * The file a command word runs: a path (canonical, relative to cwd) when the word has
 * a slash, otherwise a lookup on the host's fixed search path; null when missing.
 */
export function locateExecutable(word: string, ctx: PathContext): { ok: true; path: string | null } | { ok: false; decision: Decision } {
  if (!word.includes('/')) return { ok: true, path: ctx.host.which(word) };
  const canonical = canonicalPath(word, ctx);
  if (!canonical.ok) return canonical;
  return { ok: true, path: ctx.host.mode(canonical.path) === null ? null : canonical.path };
}

const STD_STREAMS: Record<string, number> = { '/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2, '/dev/fd/0': 0, '/dev/fd/1': 1, '/dev/fd/2': 2 };

function normaliseRedirects(raw: readonly RawRedirect[], ctx: PathContext): Redirect[] {
  return raw.map((r): Redirect => {
    if (r.kind === 'dup') return { kind: 'dup', fd: r.fd, target: r.target };
    if (r.kind === 'text') return { kind: 'text', fd: r.fd, text: r.text };
    const text = literalWord(r.target, 'command.glob-in-redirect');
    const stream = STD_STREAMS[text];
    if (stream !== undefined && r.op !== '&>' && r.op !== '&>>') return { kind: 'dup', fd: r.fd, target: stream };
    const canonical = canonicalPath(text, ctx);
    if (!canonical.ok) throw new NormaliseRefusal(canonical.decision);
    const mode = r.op === '<' ? 'read' : r.op === '>>' || r.op === '&>>' ? 'append' : 'write';
    return {
      kind: 'file',
      fd: r.fd,
      mode,
      path: canonical.path,
      ...(r.op === '&>' || r.op === '&>>' ? { bothStdoutAndStderr: true } : {}),
    };
  });
}


