import { z } from 'zod';
import { NotFoundError } from '../core/index.js';
import type { AnyTool, ToolServer } from './tool.js';

/** JSON Schema as MCP and model APIs take it. */
export type JsonSchema = Record<string, unknown>;

export interface ToolRegistry {
  readonly servers: readonly ToolServer[];
  list(): readonly AnyTool[];
  /** By id (`desktop.read_file`) or MCP name (`desktop_read_file`); NotFoundError otherwise. */
  get(name: string): AnyTool;
  find(name: string): AnyTool | undefined;
  /** The input and output JSON Schemas, computed once when the registry is built. */
  schemas(tool: AnyTool): { input: JsonSchema; output: JsonSchema };
}

/** Collects the tool servers, refusing duplicate names so a tool can never shadow another. */
export function createToolRegistry(servers: readonly ToolServer[]): ToolRegistry {
  const byName = new Map<string, AnyTool>();
  for (const server of servers) {
    for (const tool of server.tools) {
      if (tool.server !== server.name) throw new Error(`tool ${tool.id} is listed under server ${server.name}`);
      for (const key of [tool.id, tool.mcpName]) {
        if (byName.has(key)) throw new Error(`two tools are named ${key}`);
        byName.set(key, tool);
      }
    }
  }
  const tools = servers.flatMap((server) => server.tools);
  const schemaCache = new Map<AnyTool, { input: JsonSchema; output: JsonSchema }>();
  for (const tool of tools) {
    const output = toJsonSchema(tool.output, 'output');
    // MCP's structuredContent is an object; a tool's result must be one too.
    if (output.type !== 'object') throw new Error(`tool ${tool.id}: the output schema must describe an object`);
    schemaCache.set(tool, { input: toJsonSchema(tool.input, 'input'), output });
  }

  const find = (name: string): AnyTool | undefined => byName.get(name);
  return {
    servers,
    list: () => tools,
    find,
    get(name) {
      const tool = find(name);
      if (tool === undefined) throw new NotFoundError(`there is no tool named ${JSON.stringify(name)}`, { details: { tool: name } });
      return tool;
    },
    schemas(tool) {
      const cached = schemaCache.get(tool);
      if (cached === undefined) throw new Error(`tool ${tool.id} is not in this registry`);
      return cached;
    },
  };
}

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete json.$schema;
  return json;
}
