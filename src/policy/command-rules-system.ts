import { verbSpec } from './command-catalogue.js';
import { parseArgs } from './command-options.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * The machine itself: services, the journal, packages, signals, network
 * configuration, the clock and the host name.
 */

const SYSTEMCTL_READ = new Set(['status', 'show', 'cat', 'list-units', 'list-unit-files', 'list-timers', 'list-sockets', 'list-dependencies', 'list-jobs', 'is-active', 'is-enabled', 'is-failed', 'is-system-running', 'help', 'get-default', 'show-environment']);

export const systemctl: ToolRule = ({ args }, out) => {
  const sub = parseArgs(args, { values: ['-t', '--type', '--state', '-p', '--property', '-H', '--host', '-M', '--machine', '-n', '--lines', '-o', '--output'] }).operands[0];
  if (sub === undefined || SYSTEMCTL_READ.has(sub)) return;
  out.deny('command.system-modification', 'high', `systemctl ${sub} changes system services or the machine's state`);
};

export const journalctl: ToolRule = ({ args }, out) => {
  if (args.some((a) => /^--(vacuum|rotate|flush|relinquish|setup-keys|update-catalog)/.test(a))) out.deny('command.system-modification', 'medium', 'journalctl maintenance options change the system journal');
};

const PACKAGE_READ = /^(list|search|show|policy|info|depends|rdepends|madison|-l|-L|-s|-S|-q|-qa|-qi|-ql|--list|--status|--search|query|outdated|help|--version)$/;

export const packages: ToolRule = ({ args, layer, relaxed }, out) => {
  const sub = args.find((a) => !a.startsWith('-') || /^-(l|L|s|S|q\w*)$/.test(a));
  if (sub !== undefined && PACKAGE_READ.test(sub)) return;
  if (!relaxed.has('command.package-manager')) out.deny('command.package-manager', 'high', `${layer.name} ${sub ?? ''} changes system packages`.replace(/ +$/, ''));
};

export const killers: ToolRule = ({ args, layer }, out) => {
  if (layer.name === 'killall5') {
    out.deny('command.kill-init', 'critical', 'killall5 signals every process');
    return;
  }
  if (layer.name === 'kill') {
    // kill [-SIGNAL | -s SIGNAL | -n NUM] [--] pid…: only the first word can be the signal.
    let i = 0;
    if (args[i] === '-s' || args[i] === '-n' || args[i] === '--signal') i += 2;
    else if (args[i] !== undefined && args[i] !== '--' && args[i]!.startsWith('-')) i += 1;
    if (args[i] === '--') i += 1;
    if (args.slice(i).some((target) => target === '1' || target === '-1')) {
      out.deny('command.kill-init', 'critical', 'kill targets PID 1 or every process (-1)');
    }
    return;
  }
  if (args.some((a) => /^(init|systemd|-1)$/.test(a))) out.deny('command.kill-init', 'critical', `${layer.name} targets init`);
};

export const ip: ToolRule = ({ args }, out) => {
  const verb = args.find((a) => /^(add|del|delete|set|change|replace|flush|append|prepend|exec|attach|detach|up|down)$/.test(a));
  if (verb !== undefined) out.deny('command.network-change', 'high', `ip ${verb} changes the network configuration`);
};

export const date: ToolRule = ({ args }, out) => {
  const parsed = parseArgs(args, { values: ['-d', '--date', '-f', '--file', '-r', '--reference', '-s', '--set'], attached: ['-I', '--iso-8601', '--rfc-3339'] });
  if (parsed.options.some((o) => o.name === '-s' || o.name === '--set')) out.deny('command.system-modification', 'high', 'date --set changes the system clock');
  for (const option of parsed.options) {
    if ((option.name === '-f' || option.name === '--file' || option.name === '-r' || option.name === '--reference') && option.value !== undefined) out.path('read', option.value, `date ${option.name}`);
  }
};

export const hostname: ToolRule = ({ args }, out) => {
  const parsed = parseArgs(args, { values: ['-F', '--file'] });
  if (parsed.operands.length > 0 || parsed.options.some((o) => o.name === '-F' || o.name === '--file')) {
    out.deny('command.system-modification', 'high', 'hostname with a name sets the host name');
  }
};

/**
 * hostnamectl, timedatectl, loginctl, localectl, resolvectl, chronyc, busctl, gdbus:
 * the sub-command says whether they only read. What their catalogue entry lists as
 * reading runs; every other sub-command changes the machine. Listing the reads (not
 * the changes) means a sub-command added in a later release is refused, not missed.
 */
export const verbs: ToolRule = ({ args, layer }, out) => {
  const spec = verbSpec(layer.name);
  if (spec === undefined) return;
  const parsed = parseArgs(args, { values: spec.values ?? [] });
  const refuse = (reason: string) => out.deny('command.system-modification', 'high', reason);
  const multi = parsed.options.some((o) => spec.multi?.includes(o.name)) && parsed.operands.length > 0;
  const commands = multi
    ? parsed.operands.map((operand) => operand.split(/\s+/).filter(Boolean))
    : [spec.joined ? parsed.operands.join(' ').split(/\s+/).filter(Boolean) : parsed.operands];
  for (const words of commands) {
    const [verb, ...rest] = words;
    if (verb === undefined) {
      const info = parsed.options.some((o) => spec.info?.includes(o.name));
      if (spec.noVerb === 'change' && !info) refuse(`${layer.name} without a command reads its commands from standard input, unseen; they can change ${spec.changes}`);
      continue;
    }
    const reads = spec.read.some((entry) => {
      const expected = entry.split(' ');
      return expected.every((word, i) => words[i] === word);
    });
    const getter = spec.getters?.[verb];
    if (reads || (getter !== undefined && rest.length <= getter)) continue;
    refuse(`${layer.name} ${words.join(' ')} changes ${spec.changes}`);
  }
};
