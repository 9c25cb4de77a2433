import type { z } from 'zod';
import type { ToolContext } from './context.js';

/**
 * The tool model (T1): everything an agent can do is a Tool, defined as data plus
 * one handler. A tool never checks permissions or policy itself: `invoke` does the
 * first, the capabilities in its ToolContext the second.
 */

export const RISKS = ['read', 'write', 'execute', 'admin'] as const;
/** read: only inspects · write: changes files · execute: runs or stops processes · admin: changes the system or ironcode. */
export type Risk = (typeof RISKS)[number];

/** Server and tool names: lower case, so `<server>_<tool>` always fits MCP's `^[a-zA-Z0-9_-]{1,64}$`. */
const NAME = /^[a-z][a-z0-9_]*$/;

export interface ToolHints {
  /** Calling twice with the same input has no further effect. Defaults to true for read tools. */
  idempotent?: boolean;
  /** May destroy or overwrite something. Defaults to true for write, execute and admin tools. */
  destructive?: boolean;
  /** Reaches outside the workspace (the network, arbitrary programs). */
  openWorld?: boolean;
}

export interface ToolSpec<I extends z.ZodObject, O extends z.ZodType> {
  name: string;
  title: string;
  /** One or two sentences: what MCP clients show by default, since tool schemas cost a model's context. */
  description: string;
  /** The full usage text, returned on request (`ironcode tools describe`, the MCP `_meta`). */
  usage?: string;
  input: I;
  output: O;
  risk: Risk;
  hints?: ToolHints;
  run(ctx: ToolContext, input: z.output<I>): Promise<z.input<O>>;
  /** The text a client shows for a result; JSON of the output by default. */
  text?(output: z.output<O>): string;
  /** What the audit log keeps of a result (redacted there too); nothing by default. */
  auditResult?(output: z.output<O>): unknown;
}

export interface Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodType = z.ZodType> extends ToolSpec<I, O> {
  server: string;
  /** `server.tool`: the tool's id in ironcode (audit resources, metrics labels). */
  id: string;
  /** `server_tool`: the name MCP clients and model APIs see. */
  mcpName: string;
  /** `tool.<server>.<tool>:<risk>`: what RBAC checks; roles grant tools by risk. */
  permission: string;
  annotations: { readOnly: boolean; destructive: boolean; idempotent: boolean; openWorld: boolean };
}

/** A type-erased tool, as the registry holds them. */
export type AnyTool = Tool<z.ZodObject, z.ZodType>;

export interface ToolServer {
  name: string;
  description: string;
  tools: readonly AnyTool[];
}

export function defineTool<I extends z.ZodObject, O extends z.ZodType>(server: string, spec: ToolSpec<I, O>): Tool<I, O> {
  if (!NAME.test(server)) throw new Error(`tool server name ${JSON.stringify(server)} must match ${NAME}`);
  if (!NAME.test(spec.name)) throw new Error(`tool name ${JSON.stringify(spec.name)} must match ${NAME}`);
  const mcpName = `${server}_${spec.name}`;
  if (mcpName.length > 64) throw new Error(`tool name ${mcpName} is longer than the 64 characters MCP allows`);
  // Strict input: an unknown field is a caller's mistake (often a misspelt option), never silently dropped.
  if (spec.input.def.catchall?._zod.def.type !== 'never') {
    throw new Error(`tool ${mcpName}: the input schema must be a z.strictObject`);
  }
  const readOnly = spec.risk === 'read';
  return {
    ...spec,
    server,
    id: `${server}.${spec.name}`,
    mcpName,
    permission: `tool.${server}.${spec.name}:${spec.risk}`,
    annotations: {
      readOnly,
      destructive: spec.hints?.destructive ?? !readOnly,
      idempotent: spec.hints?.idempotent ?? readOnly,
      openWorld: spec.hints?.openWorld ?? false,
    },
  };
}

/** Erases a tool's types for a heterogeneous list (its handler still gets parsed input). */
export function anyTool<I extends z.ZodObject, O extends z.ZodType>(tool: Tool<I, O>): AnyTool {
  return tool as unknown as AnyTool;
}
