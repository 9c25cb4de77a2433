import type { Script } from '../policy/index.js';

/** An argv as one readable line; quoting is for reading only, nothing parses it. */
export function argvLine(argv: readonly string[]): string {
  return argv.map(quoted).join(' ');
}

/** A script as the line that shows what runs: stages joined by `|`, items by their connectors. */
export function scriptLine(script: Script): string {
  return script.items
    .map((item, index) => {
      const pipeline = item.pipeline.stages.map((stage) => argvLine(stage.argv)).join(' | ');
      const text = item.pipeline.negated ? `! ${pipeline}` : pipeline;
      return index === 0 ? text : `${item.connector} ${text}`;
    })
    .join(' ');
}

function quoted(arg: string): string {
  return /^[A-Za-z0-9_./:=,+@%^-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
