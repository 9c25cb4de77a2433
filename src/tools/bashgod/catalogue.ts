import { deepFreeze, loadDataFile, NotFoundError } from '../../core/index.js';
import { CATEGORIES, commandFileSchema, type Category, type CommandSpec } from './catalogue-schema.js';
import { checkParamValue } from './params.js';
import { renderCommand } from './render.js';
import { rankCommands, type SearchHit, type SearchOptions } from './search.js';
import { templateProblems } from './template.js';

/**
 * The catalogue: every data/<category>.yaml loaded once, checked as a whole (ids
 * unique across files, every template sound, every example rendering) and frozen.
 * A broken entry stops the load: a half-loaded catalogue would silently lose commands.
 */

export interface CommandSource {
  /** Where the commands came from, for messages (a file name). */
  source: string;
  /** The category every command in this source must have, when the source is one. */
  category?: Category;
  commands: readonly CommandSpec[];
}

export interface Catalogue {
  readonly commands: readonly CommandSpec[];
  readonly byId: ReadonlyMap<string, CommandSpec>;
}

/** Problems with one command on its own; empty when it is sound. */
export function commandProblems(command: CommandSpec): string[] {
  const problems: string[] = [];
  const names = command.params.map((p) => p.name);
  for (const name of new Set(names)) if (names.filter((n) => n === name).length > 1) problems.push(`parameter ${name} is declared twice`);
  problems.push(...templateProblems(command.argv, command.params));
  for (const spec of command.params) {
    if (spec.default === undefined) continue;
    const checked = checkParamValue(spec, spec.default);
    if (!checked.ok) problems.push(`the default of ${spec.name} is invalid: ${checked.message}`);
  }
  const argv0 = command.argv[0];
  if (typeof argv0 === 'string' && !command.requires.includes(argv0)) problems.push(`requires must list argv[0] (${argv0})`);
  if (new Set(command.requires).size !== command.requires.length) problems.push('requires lists an executable twice');
  if (new Set(command.platforms).size !== command.platforms.length) problems.push('platforms repeat');
  if (problems.length === 0) {
    try {
      renderCommand(command, command.example);
    } catch (error) {
      problems.push(`the example does not render: ${(error as Error).message}`);
    }
  }
  return problems;
}

export function buildCatalogue(sources: readonly CommandSource[]): Catalogue {
  const problems: string[] = [];
  const byId = new Map<string, CommandSpec>();
  const origin = new Map<string, string>();
  for (const { source, category, commands } of sources) {
    for (const command of commands) {
      const seen = origin.get(command.id);
      if (seen !== undefined) {
        problems.push(`${source}: ${command.id}: the id is already used in ${seen}`);
        continue;
      }
      origin.set(command.id, source);
      if (category !== undefined && command.category !== category) problems.push(`${source}: ${command.id}: category ${command.category} belongs in ${command.category}.yaml`);
      for (const problem of commandProblems(command)) problems.push(`${source}: ${command.id}: ${problem}`);
      byId.set(command.id, command);
    }
  }
  if (problems.length > 0) throw new Error(`the BashGod catalogue is invalid:\n  ${problems.join('\n  ')}`);
  return { commands: [...byId.values()], byId };
}

let loaded: Catalogue | undefined;

/** The built-in catalogue, loaded and checked on first use. */
export function catalogue(): Catalogue {
  if (loaded === undefined) {
    const sources = CATEGORIES.map((category) => ({
      source: `${category}.yaml`,
      category,
      commands: loadDataFile(new URL(`./data/${category}.yaml`, import.meta.url), commandFileSchema).commands,
    }));
    loaded = deepFreeze(buildCatalogue(sources));
  }
  return loaded;
}

export function listCommands(filter: { category?: Category; risk?: CommandSpec['risk'] } = {}): readonly CommandSpec[] {
  return catalogue().commands.filter((c) => (filter.category === undefined || c.category === filter.category) && (filter.risk === undefined || c.risk === filter.risk));
}

export function findCommand(id: string): CommandSpec | undefined {
  return catalogue().byId.get(id);
}

/** The command with this id; a NotFoundError suggesting near ids otherwise. */
export function getCommand(id: string): CommandSpec {
  const command = findCommand(id);
  if (command !== undefined) return command;
  const near = rankCommands(catalogue().commands, id.replace(/-/g, ' '), { limit: 3 }).map((hit) => hit.command.id);
  throw new NotFoundError(`no BashGod command ${JSON.stringify(id)}${near.length > 0 ? `; did you mean ${near.join(', ')}?` : ''}`, { details: { id, suggestions: near } });
}

export function searchCommands(query: string, options: SearchOptions = {}): SearchHit[] {
  return rankCommands(catalogue().commands, query, options);
}
