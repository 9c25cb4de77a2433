import { z } from 'zod';

/** A normalised action, as `ironcode policy check` reads it (one JSON object a line). */
export const actionSchema = z.union([
  z.strictObject({ kind: z.literal('command'), argv: z.array(z.string()).min(1) }),
  z.strictObject({ kind: z.literal('command'), line: z.string() }),
  z.strictObject({ kind: z.literal('path'), op: z.enum(['read', 'write', 'list', 'delete']), path: z.string() }),
  z.strictObject({ kind: z.literal('url'), url: z.string() }),
]);

export type Action = z.infer<typeof actionSchema>;
