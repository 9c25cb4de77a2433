import { parseArgs } from './command-options.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * Terminal multiplexers (tmux, screen, zellij …) run commands in a session server
 * that outlives the command: out of reach of its time limit and process-group
 * cleanup, and, when a server is already running (the user's own), outside the
 * sandbox altogether — `tmux send-keys` types into the user's shell. Only the forms
 * that list sessions run; everything else is refused.
 */

const RULE = 'command.terminal-multiplexer';

/** tmux commands that only report; each must be the whole command line. */
const TMUX_READ = new Set([
  'list-sessions', 'ls', 'list-windows', 'lsw', 'list-panes', 'lsp', 'list-clients', 'lsc',
  'list-commands', 'lscm', 'list-keys', 'lsk', 'has-session', 'has',
]);
const TMUX_GLOBAL_VALUES = ['-c', '-f', '-L', '-S', '-T'];
const TMUX_COMMAND_VALUES = ['-F', '-f', '-t', '-T', '-O'];
const SCREEN_READ = new Set(['-ls', '-list', '-v', '-version', '--version']);
const ZELLIJ_READ = new Set(['list-sessions', 'ls', '--version', '-V', '--help', '-h', 'help']);

export const multiplexers: ToolRule = ({ args, layer }, out) => {
  const refuse = (what: string) => out.deny(RULE, 'high', `${layer.name} ${what}; multiplexer sessions outlive the command and its limits, and an existing server runs outside the sandbox`);
  switch (layer.name) {
    case 'tmux':
      tmux(args, refuse);
      return;
    case 'screen':
      if (args.length === 0 || !SCREEN_READ.has(args[0]!) || args.slice(1).some((a) => a.startsWith('-'))) refuse(args.length === 0 ? 'starts a session' : `${args[0]} runs or controls a session`);
      return;
    case 'zellij':
      if (args.length === 0 || !ZELLIJ_READ.has(args[0]!)) refuse(args.length === 0 ? 'starts a session' : `${args[0]} runs or controls a session`);
      return;
    default:
      refuse('starts or attaches to a session');
  }
};

function tmux(args: readonly string[], refuse: (what: string) => void): void {
  const globals = parseArgs(args, { values: TMUX_GLOBAL_VALUES, stopAtOperand: true });
  const global = globals.options.find((o) => o.name === '-c' || o.name === '-f');
  if (global) {
    refuse(`${global.name} ${global.name === '-c' ? 'runs a shell command' : 'loads a configuration that can run commands'}`);
    return;
  }
  const rest = args.slice(globals.firstOperandIndex);
  if (rest.length === 0) {
    if (!globals.options.some((o) => o.name === '-V')) refuse('starts a session');
    return;
  }
  const [command, ...commandArgs] = rest;
  if (!TMUX_READ.has(command!)) {
    refuse(`${command} runs, controls or types into a session`);
    return;
  }
  // `\;` (or a word ending in `;`) starts another tmux command; `#()` in a format runs a shell command.
  const chained = commandArgs.find((a) => a === ';' || a.endsWith(';'));
  if (chained !== undefined) {
    refuse(`${JSON.stringify(chained)} chains another tmux command`);
    return;
  }
  const parsed = parseArgs(commandArgs, { values: TMUX_COMMAND_VALUES });
  const format = [...parsed.options.map((o) => o.value ?? ''), ...parsed.operands].find((v) => v.includes('#('));
  if (format !== undefined) refuse(`format ${JSON.stringify(format)} runs a shell command (#())`);
}
