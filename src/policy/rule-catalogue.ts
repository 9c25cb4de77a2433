/**
 * Rule ids a profile may switch off with `commands.relax`. Every other rule holds
 * in every profile: those are the ones that keep the machine itself safe.
 */
export const RELAXABLE_RULES: ReadonlySet<string> = new Set([
  'command.docker-modify',
  'command.kubectl-modify',
  'command.package-manager',
  'command.remote-shell',
  'command.pager-editor',
]);
