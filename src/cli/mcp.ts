import { UnauthenticatedError, createLogger, loadConfig, type ConfigInput, type DeepPartial } from '../core/index.js';
import type { Identity, Principal } from '../identity/index.js';
import { serveMcpOverStdio, type DescriptionMode } from '../mcp/index.js';
import { openServiceRuntime } from './service-runtime.js';
import { openToolPlane } from './tool-plane.js';

export interface McpFlags {
  config?: string;
  profile?: string;
  root?: string[];
  dataDir?: string;
  apiKey?: string;
  descriptions: DescriptionMode;
}

const NO_PRINCIPAL = [
  'ironcode mcp needs to know who is acting, and nobody is by default.',
  'Either pass an API key: create one with `ironcode admin create-api-key --name desktop --role operator`',
  'and give it with --api-key or IRONCODE_API_KEY in the MCP client\'s configuration;',
  'or configure a local operator with explicit roles in ironcode.config.yaml:',
  '  auth: { localOperator: { enabled: true, roles: [operator] } }',
].join('\n');

/**
 * `ironcode mcp`: the tool plane over stdio. Runs until the client closes standard
 * input (or SIGINT/SIGTERM), then stops process sessions, flushes the audit log and
 * exits.
 */
export async function serveMcp(flags: McpFlags, version: string): Promise<number> {
  const overrides: DeepPartial<ConfigInput> = {};
  if (flags.profile !== undefined) overrides.profile = flags.profile;
  if (flags.root !== undefined && flags.root.length > 0) overrides.roots = flags.root;
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  const config = loadConfig({ ...(flags.config === undefined ? {} : { configPath: flags.config }), overrides });
  // stdout carries the protocol: every log line goes to stderr.
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const apiKey = flags.apiKey ?? process.env.IRONCODE_API_KEY;
  const runtime = await openServiceRuntime(config, { logger });
  try {
    const principal = await resolvePrincipal(runtime.identity, apiKey, config.auth.localOperator.enabled);
    const first = await principal();
    const plane = await openToolPlane(config, runtime, logger);
    try {
      const server = serveMcpOverStdio({ invoker: plane.invoker, approvals: plane.approvals, version, logger, principal, descriptions: flags.descriptions });
      const stop = () => void server.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      logger.info({ principal: first.name, kind: first.kind, roots: config.roots, profile: config.profile }, 'ironcode MCP server on stdio');
      await server.closed;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    } finally {
      await plane.close();
    }
    return 0;
  } finally {
    await runtime.close();
  }
}

const KEY_RECHECK_MS = 1000;

async function resolvePrincipal(identity: Pick<Identity, 'authenticate' | 'localOperator'>, apiKey: string | undefined, localOperator: boolean): Promise<() => Promise<Principal>> {
  if (apiKey !== undefined && apiKey !== '') {
    const check = () => identity.authenticate(apiKey, { userAgent: 'ironcode-mcp-stdio' });
    let current = await check().catch((error: unknown) => {
      throw new UnauthenticatedError(`the API key was refused (${error instanceof Error ? error.message : String(error)}); create a new one with \`ironcode admin create-api-key\``);
    });
    // Checked again at most every second: a revoked or expired key stops within a second,
    // without two queries on every call of a busy session.
    let checkedAt = Date.now();
    return async () => {
      if (Date.now() - checkedAt >= KEY_RECHECK_MS) {
        current = await check();
        checkedAt = Date.now();
      }
      return current;
    };
  }
  if (!localOperator) throw new UnauthenticatedError(NO_PRINCIPAL);
  const operator = identity.localOperator();
  return () => Promise.resolve(operator);
}
