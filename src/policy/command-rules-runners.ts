import { operandSpec } from './command-catalogue.js';
import { parseArgs } from './command-options.js';
import { judgeOperands } from './command-rules.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * Programs that run other code by design: make, npm/npx, script and editors —
 * refused only where they take a command string or change how they run.
 */

export const make: ToolRule = ({ args, layer }, out) => {
  const bad = args.find((a) => a === '--eval' || a.startsWith('--eval=') || a === '-E' || /^\.?SHELL(FLAGS)?=/.test(a) || /^MAKESHELL=/.test(a));
  if (bad) out.deny('command.exec-option', 'high', `make ${bad} changes the commands make runs`);
  judgeOperands('make', args.filter((a) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a)), operandSpec('make'), layer.unseenOperands, out);
};

export const npm: ToolRule = ({ args, layer }, out) => {
  const bad = args.find((a) => ['-c', '--call', '--script-shell', '-g', '--global', '--location=global', '--prefix'].includes(a) || a.startsWith('--script-shell=') || a.startsWith('--call='));
  if (bad) out.deny(bad.startsWith('-c') || bad.startsWith('--call') ? 'command.inline-code' : 'command.exec-option', 'high', `${layer.name} ${bad} ${bad.startsWith('-g') || bad.includes('global') || bad === '--prefix' ? 'installs outside the workspace' : 'runs a command string through a shell'}`);
  if (args[0] === 'config' && ['set', 'edit'].includes(args[1] ?? '')) out.deny('command.exec-option', 'high', 'npm config set changes how npm runs scripts');
  // Package specs that are URLs (`npm install http://…/x.tgz`, `git+https://…`) are fetched: SSRF rules.
  for (const arg of args) {
    const url = /^(?:git\+)?(https?:\/\/.*)$/i.exec(arg)?.[1];
    if (url !== undefined) out.url(url, `${layer.name} package URL`);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg) && url === undefined && !/^git\+ssh:/i.test(arg)) out.deny('url.scheme', 'medium', `${layer.name} package URL ${JSON.stringify(arg)}: only http and https are fetched`);
  }
};

const SCRIPT_VALUES = ['-c', '--command', '-E', '--echo', '-o', '--output-limit', '-T', '--log-timing', '-I', '--log-in', '-O', '--log-out', '-B', '--log-io', '-m', '--logging-format'];

/**
 * `script -c`, and an editor's `-c`/`--cmd`/`-S`/`+cmd`, take commands to run; the
 * editors' commands include `:!` shell escapes. (less and more keep their meaning of
 * `-c`, "clear the screen"; their `+cmd` is refused in command-rules.ts.)
 */
export const commandStringOptions: ToolRule = ({ args, layer }, out) => {
  if (layer.name !== 'less' && layer.name !== 'more') {
    const parsed = parseArgs(args, { values: layer.name === 'script' ? SCRIPT_VALUES : [] });
    const option = parsed.options.find((o) => ['-c', '--command', '--cmd', '-S'].includes(o.name))?.name;
    const plus = layer.name === 'script' ? undefined : parsed.operands.find((a) => a.startsWith('+'));
    const bad = option ?? plus;
    if (bad !== undefined) {
      out.deny('command.inline-code', 'high', `${layer.name} ${bad} runs a command string`);
      return;
    }
  }
  judgeOperands(layer.name, args, operandSpec(layer.name), layer.unseenOperands, out);
};
