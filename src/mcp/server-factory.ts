/**
 * The registry as an MCP server (T2). This layer holds no logic of its own: it
 * finds who is calling, asks the invoker what they may see, and hands every call to
 * `invoke`, turning its result or refusal into MCP's shapes. One factory serves
 * stdio and HTTP and both protocol eras (2025 `initialize` clients and 2026-07-28).
 *
 * Built on the SDK's low-level `Server` because the tool list is the caller's own
 * (filtered by RBAC) and computed per request; the SDK marks it deprecated in
 * favour of `McpServer`, whose static registration cannot express that, and its
 * documentation recommends `Server` for exactly this case.
 */
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type McpRequestContext, type McpServerFactory, type ServerContext } from '@modelcontextprotocol/server';
import { toIronError, type Logger } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { Invoker } from '../tools/index.js';
import { errorResult, successResult } from './call-result.js';
import { createToolListing, type DescriptionMode } from './tool-listing.js';

export interface McpServerOptions {
  invoker: Invoker;
  version: string;
  logger: Logger;
  /** Who is calling: authenticated again for every request (a revoked key stops working at once). */
  principal(ctx: ServerContext, request: McpRequestContext): Promise<Principal>;
  /** `mcp-stdio` or `mcp-http`, for the audit log. */
  via: string;
  /** The client address, when there is one. */
  ip?(ctx: ServerContext): string | undefined;
  descriptions?: DescriptionMode;
}

const INSTRUCTIONS = [
  'ironcode runs tools on this machine under a safety policy, role-based permissions and an audit log.',
  'Paths must be inside the workspace roots; commands run without a shell, checked by the policy.',
  'A refused call says which rule refused it and why: change the request rather than retrying it.',
].join(' ');

export function createMcpServerFactory(options: McpServerOptions): McpServerFactory {
  const { invoker, logger } = options;
  const listing = createToolListing(invoker.registry, options.descriptions ?? 'short');

  return (request: McpRequestContext) => {
    const server = new Server({ name: 'ironcode', version: options.version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });

    server.setRequestHandler('tools/list', async (_req, ctx) => {
      const principal = await options.principal(ctx, request).catch((error: unknown) => {
        throw new ProtocolError(ProtocolErrorCode.InvalidRequest, toIronError(error).message);
      });
      return { tools: listing(invoker.visibleTools(principal)) };
    });

    server.setRequestHandler('tools/call', async (req, ctx): Promise<CallToolResult> => {
      const name = req.params.name;
      const tool = invoker.registry.find(name);
      const progressToken = ctx.mcpReq._meta?.progressToken;
      let lastProgress = -Infinity;
      let principal: Principal;
      try {
        principal = await options.principal(ctx, request);
      } catch (error) {
        // A key revoked since the session began: the refusal is the call's answer.
        return errorResult(toIronError(error));
      }
      try {
        const result = await invoker.invoke(principal, name, req.params.arguments ?? {}, {
          signal: ctx.mcpReq.signal,
          via: options.via,
          ...(options.ip?.(ctx) === undefined ? {} : { ip: options.ip(ctx)! }),
          ...(progressToken === undefined
            ? {}
            : {
                onProgress: (update) => {
                  // MCP requires progress to increase; a handler that repeats a value is not an error worth a crash.
                  if (update.progress <= lastProgress) return;
                  lastProgress = update.progress;
                  ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, ...update } }).catch((error: unknown) => {
                    logger.debug({ err: error }, 'progress notification not delivered');
                  });
                },
              }),
        });
        return server.projectCallToolResult(successResult(result), invoker.registry.schemas(result.tool).output);
      } catch (error) {
        const iron = toIronError(error);
        // An unknown tool is a protocol error (the spec's -32602), after invoke has audited the attempt.
        if (tool === undefined) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
        return errorResult(iron);
      }
    });

    return server;
  };
}
