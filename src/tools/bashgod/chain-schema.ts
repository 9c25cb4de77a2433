import { z } from 'zod';
import { paramSchema } from './catalogue-schema.js';

/**
 * Chains (data/chains.yaml): named runs of catalogue commands.
 *
 *   mode: sequential   steps in order; `stopOnFailure: true` ends the run at the first failure
 *   mode: parallel     all steps at once
 *   mode: conditional  steps in order; a step with `when: { step: id, status: success|failure }`
 *                      runs only when that step ran and ended that way
 *   mode: pipeline     each step's standard output is the next one's standard input
 *                      (joined by the executor, never by a shell)
 *
 * A step names a command id and its params: literal values, or "{name}" for the
 * whole value of a chain parameter (a reference inside other text is an error).
 */

export const CHAIN_MODES = ['sequential', 'parallel', 'conditional', 'pipeline'] as const;
export type ChainMode = (typeof CHAIN_MODES)[number];

const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const value = z.union([z.string(), z.number(), z.boolean()]);

export const chainStepSchema = z.strictObject({
  id: z.string().max(48).regex(KEBAB, 'step ids are kebab-case'),
  command: z.string().min(1).max(64),
  params: z.record(z.string(), value).default({}),
  when: z.strictObject({ step: z.string().min(1), status: z.enum(['success', 'failure']) }).optional(),
});

export const chainSchema = z.strictObject({
  id: z.string().max(64).regex(KEBAB, 'chain ids are kebab-case'),
  title: z.string().min(3).max(80),
  description: z.string().min(20).max(400),
  mode: z.enum(CHAIN_MODES),
  stopOnFailure: z.boolean().optional(),
  params: z.array(paramSchema).max(16).default([]),
  example: z.record(z.string(), value).default({}),
  steps: z.array(chainStepSchema).min(1).max(16),
});

export const chainFileSchema = z.strictObject({ chains: z.array(chainSchema).min(1) });

export type ChainStep = z.infer<typeof chainStepSchema>;
export type ChainSpec = z.infer<typeof chainSchema>;
