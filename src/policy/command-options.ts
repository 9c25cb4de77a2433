/**
 * Splits an argument list into options and operands the way getopt-style tools
 * do: short clusters (`-xzf file`), long options with `=` or a separate value,
 * and `--` ending the options. Which options take a value is told per command;
 * an unknown option is assumed to take none, so its would-be value is judged as
 * an operand (the stricter reading).
 */

export interface OptionSpec {
  /** Options that take a value, short (`-o`) and long (`--output`) alike. */
  values?: readonly string[];
  /**
   * Options whose value is optional and can only be attached (`-i{}`, `--replace=X`,
   * perl's `-x dir`): the rest of a short cluster is the value, and the next word is
   * never taken, since the program itself never takes it.
   */
  attached?: readonly string[];
  /** Stop option parsing at the first operand (commands that run a sub-command). */
  stopAtOperand?: boolean;
  /** Further long options the caller looks for (see expandLongOption). */
  known?: readonly string[];
}

/**
 * GNU getopt_long and git's parse-options accept any unambiguous prefix of a long
 * option (`--to-comm` is `--to-command`). A prefix of exactly one long option the
 * caller knows is read as that option; a prefix of several stays as written.
 */
export function expandLongOption(name: string, longOptions: readonly string[]): string {
  if (!name.startsWith('--') || name.length < 3 || longOptions.includes(name)) return name;
  const matches = longOptions.filter((o) => o.startsWith('--') && o.startsWith(name));
  return matches.length === 1 ? matches[0]! : name;
}

export interface ParsedOption {
  /** `-o`, `--output`; for clusters each letter is reported as its own `-x`. */
  name: string;
  value?: string;
}

export interface ParsedArgs {
  options: ParsedOption[];
  operands: string[];
  /** Index in the original list where the first operand stood (sub-command start). */
  firstOperandIndex: number;
}

export function parseArgs(args: readonly string[], spec: OptionSpec = {}): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const attached = new Set(spec.attached ?? []);
  const longOptions = [...new Set([...(spec.values ?? []), ...(spec.attached ?? []), ...(spec.known ?? [])])].filter((o) => o.startsWith('--'));
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  let firstOperandIndex = args.length;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = expandLongOption(eq === -1 ? arg : arg.slice(0, eq), longOptions);
      if (eq !== -1) options.push({ name, value: arg.slice(eq + 1) });
      else if (values.has(name) && !attached.has(name) && i + 1 < args.length) options.push({ name, value: args[++i]! });
      else options.push({ name });
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // A whole word listed as a value option (`-name`, `-eval`) before cluster splitting.
      if (values.has(arg)) {
        options.push(i + 1 < args.length ? { name: arg, value: args[++i]! } : { name: arg });
        continue;
      }
      for (let j = 1; j < arg.length; j++) {
        const name = `-${arg[j]}`;
        if (attached.has(name)) {
          const rest = arg.slice(j + 1);
          options.push(rest === '' ? { name } : { name, value: rest });
          break;
        }
        if (values.has(name)) {
          const rest = arg.slice(j + 1);
          if (rest !== '') options.push({ name, value: rest });
          else if (i + 1 < args.length) options.push({ name, value: args[++i]! });
          else options.push({ name });
          break;
        }
        options.push({ name });
      }
      continue;
    }
    if (firstOperandIndex === args.length) firstOperandIndex = i;
    operands.push(arg);
    if (spec.stopAtOperand) {
      i++;
      break;
    }
  }
  if (firstOperandIndex === args.length && i < args.length) firstOperandIndex = i;
  operands.push(...args.slice(i));
  return { options, operands, firstOperandIndex };
}

export function hasOption(parsed: ParsedArgs, ...names: string[]): boolean {
  return parsed.options.some((o) => names.includes(o.name));
}

export function optionValues(parsed: ParsedArgs, ...names: string[]): string[] {
  return parsed.options.filter((o) => names.includes(o.name) && o.value !== undefined).map((o) => o.value!);
}
