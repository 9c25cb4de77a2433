/**
 * A real tool environment over a temporary workspace, for unit tests of tool
 * handlers: the real policy, guarded capabilities and executor, no doubles.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/core/index.js';
import { builtinRbac, type Principal } from '../../src/identity/index.js';
import { builtinProfile, createPolicy, type BuiltinProfileName, type Profile } from '../../src/policy/index.js';
import type { AnyTool, ToolContext } from '../../src/tools/index.js';
import { createToolEnvironment, type ToolEnvironment } from '../../src/tools/index.js';

export const TEST_OPERATOR: Principal = { kind: 'user', id: 'usr_test', name: 'tester', roles: ['operator'], permissions: [] };

export interface ToolWorkspace {
  /** Canonical workspace root (a fresh temp directory). */
  root: string;
  /** Where ironcode's data directory would be: inside the root, and guarded. */
  dataDir: string;
  env: ToolEnvironment;
  context(options?: { principal?: Principal; signal?: AbortSignal; onProgress?: ToolContext['progress'] }): ToolContext;
  /** Parses the input with the tool's schema, runs it and checks the output against its schema. */
  run<T = unknown>(tool: AnyTool, input: unknown, options?: { principal?: Principal; signal?: AbortSignal; onProgress?: ToolContext['progress'] }): Promise<T>;
  close(): Promise<void>;
}

export async function toolWorkspace(options: { profile?: BuiltinProfileName | Profile; sandbox?: boolean } = {}): Promise<ToolWorkspace> {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-tools-')));
  const base = typeof options.profile === 'object' ? options.profile : builtinProfile(options.profile ?? 'standard');
  // Unit tests run unsandboxed unless asked: the sandbox has its own tests, and bwrap per command is slow.
  const profile: Profile = options.sandbox === true ? base : { ...base, exec: { ...base.exec, sandbox: 'off' } };
  const dataDir = path.join(root, '.ironcode');
  const policy = await createPolicy({ profile, roots: [root], protectedDirs: [dataDir] });
  const logger = createLogger({ level: 'silent', format: 'json' });
  const env = await createToolEnvironment({ policy, profile, dataDir, logger });
  let calls = 0;
  const context: ToolWorkspace['context'] = (opts = {}) =>
    env.contextFor({
      principal: opts.principal ?? TEST_OPERATOR,
      tool: 'test.tool',
      signal: opts.signal ?? new AbortController().signal,
      callId: `call_test${++calls}`,
      log: logger,
      progress: opts.onProgress ?? (() => undefined),
      authorize: (permission) => builtinRbac().authorize(opts.principal ?? TEST_OPERATOR, permission),
    });
  return {
    root,
    dataDir,
    env,
    context,
    async run(tool, input, opts = {}) {
      const parsed = tool.input.parse(input);
      const output = await tool.run(context(opts), parsed);
      return tool.output.parse(output) as never;
    },
    async close() {
      await env.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
