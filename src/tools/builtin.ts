import { bashgodServer } from './bashgod/server.js';
import { desktopServer } from './desktop/index.js';
import { createToolRegistry, type ToolRegistry } from './registry.js';
import type { ToolServer } from './tool.js';

/** Every tool server ironcode ships, in the order tools/list shows them. */
export const BUILTIN_SERVERS: readonly ToolServer[] = [desktopServer, bashgodServer];

let builtin: ToolRegistry | undefined;

export function builtinRegistry(): ToolRegistry {
  builtin ??= createToolRegistry(BUILTIN_SERVERS);
  return builtin;
}
