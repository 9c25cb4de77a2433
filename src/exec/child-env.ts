import { SAFE_PATH } from '../policy/index.js';

/**
 * Host variables a command may see. Everything else in the control plane's own
 * environment (API keys, tokens, proxies with credentials) stays out of children.
 */
export const INHERITED_ENV_NAMES: readonly string[] = ['TZ', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'LANGUAGE', 'NO_COLOR'];

/**
 * The same search path the policy resolved every command on, so a wrapper that looks
 * its command up at run time (`env`, `xargs`, `timeout`) finds the file that was judged.
 */
export const CHILD_PATH = SAFE_PATH.join(':');

/** The cleared environment a command starts from when the caller passes none. */
export function defaultEnvironment(home: string, host: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV_NAMES) {
    const value = host[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, PATH: CHILD_PATH, LANG: 'C.UTF-8', HOME: home, TERM: 'dumb' };
}
