import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { actionSchema, deny, type Decision, type Policy } from '../policy/index.js';

/**
 * `ironcode policy check`: JSON Lines of actions in, one decision per line out,
 * in order. A malformed line gets an error decision of its own; it never stops
 * the stream.
 */
export async function policyCheck(policy: Policy, input: Readable, output: Writable): Promise<{ lines: number; denied: number }> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let count = 0;
  let denied = 0;
  for await (const line of lines) {
    count++;
    if (line.trim() === '') continue;
    const decision = await decideLine(policy, line, count);
    if (!decision.allowed) denied++;
    if (!output.write(`${JSON.stringify(decision)}\n`)) await new Promise((resolve) => output.once('drain', resolve));
  }
  return { lines: count, denied };
}

async function decideLine(policy: Policy, line: string, number: number): Promise<Decision> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (error) {
    return deny('input.invalid', 'low', `line ${number}: not JSON (${(error as Error).message})`);
  }
  const parsed = actionSchema.safeParse(json);
  if (!parsed.success) {
    return deny('input.invalid', 'low', `line ${number}: not an action: ${describeActionError(json)}`);
  }
  try {
    return await policy.decide(parsed.data);
  } catch (error) {
    // A bug must not stop the stream or let the action through: this line fails closed.
    return deny('internal.error', 'high', `line ${number}: ironcode could not judge this action (${(error as Error).message}); refused`);
  }
}

function describeActionError(json: unknown): string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'expected an object';
  const kind = (json as { kind?: unknown }).kind;
  if (kind === 'command') return 'a command needs exactly one of "argv" (a non-empty list of strings) or "line" (a string), and no other keys';
  if (kind === 'path') return 'a path needs "op" (read, write, list or delete) and "path" (a string), and no other keys';
  if (kind === 'url') return 'a url needs "url" (a string), and no other keys';
  return `"kind" must be command, path or url (got ${JSON.stringify(kind)})`;
}
