import type { CallToolResult } from '@modelcontextprotocol/server';
import type { IronError } from '../core/index.js';
import type { InvokeResult } from '../tools/index.js';

/** A successful call: the tool's own text for people and models, the output as structuredContent for programs. */
export function successResult(result: InvokeResult): CallToolResult {
  const { tool, output } = result;
  const text = tool.text === undefined ? JSON.stringify(output, null, 2) : tool.text(output as never);
  return { content: [{ type: 'text', text }], structuredContent: output as Record<string, unknown> };
}

/**
 * A refused or failed call, as a tool error the model can read and act on: what kind
 * of refusal, the rule or permission behind it, and the reason. Never a crashed
 * server, never a JSON-RPC error that hides the reason from the model.
 */
export function errorResult(error: IronError): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: errorText(error) }],
    _meta: { 'ironcode.dev/error': { code: error.code, ...error.details } },
  };
}

export function errorText(error: IronError): string {
  switch (error.kind) {
    case 'policyDenied':
      return `Refused by the safety policy, rule ${String(error.details.rule)} (${String(error.details.severity)}): ${error.message}`;
    case 'forbidden':
      return `Not permitted: ${error.message}`;
    case 'validation':
      return `Invalid input: ${error.message}`;
    case 'rateLimited':
      return `Rate limited: ${error.message}`;
    case 'notFound':
      return `Not found: ${error.message}`;
    case 'conflict':
      return `Conflict: ${error.message}`;
    case 'timeout':
      return `Timed out: ${error.message}`;
    case 'cancelled':
      return `Cancelled: ${error.message}`;
    case 'unavailable':
      return `Unavailable: ${error.message}`;
    case 'internal':
      // The details of ironcode's own bugs go to its log, not to the caller.
      return 'Internal error in ironcode; the call was recorded and the details are in the server log.';
    default:
      return `${error.code}: ${error.message}`;
  }
}
