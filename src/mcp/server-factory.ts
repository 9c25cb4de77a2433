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
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  inputRequired,
  inputResponse,
  type CallToolResult,
  type ClientCapabilities,
  type Implementation,
  type InputRequiredResult,
  type McpRequestContext,
  type McpServerFactory,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { IronError, toIronError, type Logger } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import { ApprovalRequiredError, type Approvals, type Invoker } from '../tools/index.js';
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
  /**
   * Approvals of `ask` rules: when the client can elicit, the person at it is asked
   * (yes grants the exact action once, no denies it); otherwise the refusal names
   * the approval id for an administrator.
   */
  approvals?: Approvals;
}

/** Elicitation keys carry the approval id, so the answer on re-entry names what it answers. */
const APPROVAL_KEY = 'ironcode_approve_';

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

    const clientOf = (ctx: ServerContext): { capabilities: ClientCapabilities | undefined; name: string } => {
      const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
      const capabilities = (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? server.getClientCapabilities();
      const info = (envelope?.[CLIENT_INFO_META_KEY] as Implementation | undefined) ?? server.getClientVersion();
      return { capabilities, name: info?.name ?? 'unknown client' };
    };

    /** Answers to approval questions asked in an earlier round of this call; returns the requests answered no. */
    const applyAnswers = async (ctx: ServerContext, principal: Principal): Promise<string[]> => {
      const responses = ctx.mcpReq.inputResponses;
      const declined: string[] = [];
      if (responses === undefined || options.approvals === undefined) return declined;
      const client = clientOf(ctx).name;
      for (const key of Object.keys(responses)) {
        if (!key.startsWith(APPROVAL_KEY)) continue;
        const id = key.slice(APPROVAL_KEY.length);
        const answer = inputResponse(responses, key);
        if (answer.kind !== 'elicit') continue;
        const yes = answer.action === 'accept' && answer.content?.approve === true;
        // A request answered before (a retried round) is a conflict: it changes nothing, so it is ignored.
        if (yes) {
          await options.approvals.grantByClient(principal, id, client).catch(() => undefined);
        } else {
          declined.push(id);
          await options.approvals.deny(principal, id, { byClient: client }).catch(() => undefined);
        }
      }
      return declined;
    };

    const askForApproval = (ctx: ServerContext, error: ApprovalRequiredError): InputRequiredResult | undefined => {
      if (options.approvals === undefined || clientOf(ctx).capabilities?.elicitation === undefined) return undefined;
      const action = (error.details.approval as { action?: string } | undefined)?.action ?? 'this action';
      return inputRequired({
        inputRequests: {
          [`${APPROVAL_KEY}${error.approvalId}`]: inputRequired.elicit({
            mode: 'form',
            message: `ironcode asks before running: ${action}\nRule ${error.rule}: ${error.message.split('. This needs approval')[0]}\nAllow it once?`,
            requestedSchema: {
              type: 'object',
              properties: { approve: { type: 'boolean', title: 'Allow this exact action once' } },
              required: ['approve'],
            },
          }),
        },
      });
    };

    server.setRequestHandler('tools/call', async (req, ctx): Promise<CallToolResult | InputRequiredResult> => {
      const name = req.params.name;
      const tool = invoker.registry.find(name);
      const progressToken = ctx.mcpReq._meta?.progressToken;
      let lastProgress = -Infinity;
      const ip = options.ip?.(ctx);
      let principal: Principal;
      try {
        principal = await options.principal(ctx, request);
      } catch (error) {
        // A key revoked since the session began: the refusal is the call's answer.
        return errorResult(toIronError(error));
      }
      const declined = await applyAnswers(ctx, principal);
      // No means no: the call ends here instead of asking again.
      if (declined.length > 0) {
        return errorResult(new IronError('policyDenied', `the person at ${clientOf(ctx).name} declined approval ${declined.join(', ')}; the action did not run`, { details: { rule: 'approval.declined', severity: 'high' } }));
      }
      try {
        const result = await invoker.invoke(principal, name, req.params.arguments ?? {}, {
          signal: ctx.mcpReq.signal,
          via: options.via,
          ...(ip === undefined ? {} : { ip }),
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
        if (error instanceof ApprovalRequiredError) return askForApproval(ctx, error) ?? errorResult(iron);
        return errorResult(iron);
      }
    });

    return server;
  };
}
