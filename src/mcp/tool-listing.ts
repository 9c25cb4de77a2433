import type { Tool as McpTool } from '@modelcontextprotocol/server';
import type { AnyTool, ToolRegistry } from '../tools/index.js';

/** Short descriptions cost a model's context less; `full` adds each tool's usage text. */
export type DescriptionMode = 'short' | 'full';

/** Where a short listing keeps the full usage text, for clients that want it. */
export const USAGE_META_KEY = 'ironcode.dev/usage';

/**
 * The MCP view of the registry's tools, built once per tool and description mode:
 * tools/list is the hottest call after tools/call and its answer never changes.
 */
export function createToolListing(registry: ToolRegistry, mode: DescriptionMode): (tools: readonly AnyTool[]) => McpTool[] {
  const cache = new Map<AnyTool, McpTool>();
  const describe = (tool: AnyTool): McpTool => {
    let listed = cache.get(tool);
    if (listed === undefined) {
      const schemas = registry.schemas(tool);
      const full = tool.usage === undefined ? tool.description : `${tool.description}\n\n${tool.usage}`;
      listed = {
        name: tool.mcpName,
        title: tool.title,
        description: mode === 'full' ? full : tool.description,
        inputSchema: schemas.input as McpTool['inputSchema'],
        outputSchema: schemas.output as McpTool['outputSchema'],
        annotations: {
          title: tool.title,
          readOnlyHint: tool.annotations.readOnly,
          destructiveHint: tool.annotations.destructive,
          idempotentHint: tool.annotations.idempotent,
          openWorldHint: tool.annotations.openWorld,
        },
        ...(mode === 'short' && tool.usage !== undefined ? { _meta: { [USAGE_META_KEY]: tool.usage } } : {}),
      };
      cache.set(tool, listed);
    }
    return listed;
  };
  return (tools) => tools.map(describe);
}
