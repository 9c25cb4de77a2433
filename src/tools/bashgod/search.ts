import type { Category, CommandSpec } from './catalogue-schema.js';

/**
 * A small relevance ranking for finding a command by what it does. Each query word
 * scores by where it matches (id, tags and executable weigh most, the description
 * least), and every query word that matches at all adds a bonus, so commands that
 * cover more of the question rise. Words are compared in a crude singular form
 * ("ports" finds "port") and filler words are ignored.
 */

export interface SearchOptions {
  category?: Category;
  risk?: CommandSpec['risk'];
  /** At most this many results (default 20, at most 200). */
  limit?: number;
}

export interface SearchHit {
  command: CommandSpec;
  score: number;
}

export const DEFAULT_SEARCH_LIMIT = 20;
export const MAX_SEARCH_LIMIT = 200;

const FILLER = new Set(['a', 'an', 'the', 'of', 'to', 'in', 'on', 'for', 'by', 'and', 'or', 'is', 'are', 'what', 'which', 'who', 'how', 'why', 'me', 'my', 'this', 'that', 'with', 'from', 'it', 'its', 'do', 'does', 'into', 'i']);
const MATCH_BONUS = 4;

/** "ports" → "port", "processes" → "process", "entries" → "entry"; "status" and "process" stay. */
function singular(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (/(ss|x|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9%+]+/)
    .filter((w) => w.length > 0)
    .map(singular);
}

/** How well one query word matches one command; 0 when it does not. */
function wordScore(word: string, command: CommandSpec, fields: { id: string[]; title: string[]; tags: string[]; description: string[]; requires: string[] }): number {
  let score = 0;
  if (fields.id.includes(word)) score += 10;
  else if (command.id.includes(word)) score += 6;
  if (fields.tags.includes(word)) score += 6;
  else if (fields.tags.some((t) => t.startsWith(word))) score += 3;
  if (fields.requires.includes(word)) score += 6;
  if (fields.title.includes(word)) score += 5;
  else if (fields.title.some((t) => t.startsWith(word))) score += 3;
  if (fields.description.includes(word)) score += 2;
  else if (word.length >= 3 && fields.description.some((t) => t.startsWith(word))) score += 1;
  if (command.category === word) score += 2;
  return score;
}

export function rankCommands(commands: readonly CommandSpec[], query: string, options: SearchOptions = {}): SearchHit[] {
  const limit = Math.max(1, Math.min(options.limit ?? DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT));
  const candidates = commands.filter((c) => (options.category === undefined || c.category === options.category) && (options.risk === undefined || c.risk === options.risk));
  const terms = [...new Set(words(query).filter((w) => !FILLER.has(w)))];
  if (terms.length === 0) return candidates.slice(0, limit).map((command) => ({ command, score: 0 }));
  const ranked: SearchHit[] = [];
  for (const command of candidates) {
    const fields = {
      id: command.id.split('-').map(singular),
      title: words(command.title),
      tags: command.tags.flatMap((t) => [t, ...words(t)]),
      description: words(command.description),
      requires: command.requires.map((r) => r.toLowerCase()),
    };
    let score = 0;
    let matched = 0;
    for (const term of terms) {
      const s = wordScore(term, command, fields);
      if (s > 0) matched += 1;
      score += s;
    }
    if (matched > 0) ranked.push({ command, score: score + MATCH_BONUS * matched });
  }
  ranked.sort((a, b) => b.score - a.score || a.command.id.localeCompare(b.command.id));
  return ranked.slice(0, limit);
}
