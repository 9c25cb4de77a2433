import { z } from 'zod';
import { execLimitsSchema, sandboxModes, type ExecLimits, type SandboxMode } from '../core/index.js';

export { execLimitsSchema, sandboxModes, type ExecLimits, type SandboxMode };

/**
 * A safety profile as data. The three built-in profiles live in `profiles/*.yaml`
 * beside this file; custom profiles are YAML files of the same shape that may
 * `extends` a built-in one.
 */

const executableName = z
  .string()
  .min(1)
  .regex(/^(\[|[A-Za-z0-9._+-]+)$/, 'an executable name without a path, e.g. "git"');

const cidr = z
  .string()
  .regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'a CIDR block such as "10.0.0.0/8" or "fd00::/8"');

export const profileSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes'),
  description: z.string().min(1),
  commands: z.strictObject({
    /**
     * `allowlist`: only the executables in `allow` run. `denylist`: anything runs
     * that no rule denies (the deny rules always apply).
     */
    mode: z.enum(['allowlist', 'denylist']),
    allow: z.array(executableName),
    /** Executables refused in this profile on top of the built-in deny rules. */
    deny: z.array(executableName),
    /** Starting a shell or REPL that would read code from standard input. */
    interactiveInterpreters: z.enum(['deny', 'allow']),
    /** Whether programs and scripts that live inside the workspace roots may be run (`./gradlew`). */
    workspaceExecutables: z.enum(['deny', 'allow']),
    /** Rule ids this profile does not enforce (only rules marked relaxable can be listed). */
    relax: z.array(z.string().regex(/^[a-z]+\.[a-z0-9-]+$/)),
  }),
  workspace: z.strictObject({
    /** Whether commands and tools may create, change or delete files in the roots. */
    write: z.enum(['allow', 'deny']),
  }),
  network: z.strictObject({
    /** Extra address blocks reachable despite the SSRF rules (a lab network, a test server). */
    allowCidrs: z.array(cidr),
    /** Host names (exact, lower case) reachable despite the `localhost` rule. */
    allowHosts: z.array(z.string().min(1)),
  }),
  /**
   * Rule ids whose refusals wait for a person's approval instead of being final
   * (`ironcode approvals grant`, or the person at an MCP client that can ask).
   * Critical refusals are never approvable, whatever is listed here.
   */
  ask: z.array(z.string().regex(/^[a-z]+\.[a-z0-9-]+$/, 'a rule id such as command.recursive-delete')).default([]),
  exec: z.strictObject({
    sandbox: z.enum(sandboxModes),
    /** Whether sandboxed processes get the network. */
    network: z.boolean(),
    limits: execLimitsSchema,
  }),
});

export type Profile = z.infer<typeof profileSchema>;

/** A custom profile file: a built-in to start from plus the parts to change. */
export const customProfileSchema = z.strictObject({
  name: profileSchema.shape.name,
  description: z.string().min(1),
  extends: z.enum(['strict', 'standard', 'permissive']),
  commands: z
    .strictObject({
      mode: profileSchema.shape.commands.shape.mode.optional(),
      /** Added to the base profile's allowlist. */
      allow: z.array(executableName).optional(),
      deny: z.array(executableName).optional(),
      interactiveInterpreters: profileSchema.shape.commands.shape.interactiveInterpreters.optional(),
      workspaceExecutables: profileSchema.shape.commands.shape.workspaceExecutables.optional(),
      /** Added to the base profile's relaxed rules. */
      relax: profileSchema.shape.commands.shape.relax.optional(),
    })
    .optional(),
  workspace: z.strictObject({ write: z.enum(['allow', 'deny']).optional() }).optional(),
  /** Added to the base profile's `ask` rules. */
  ask: z.array(z.string().regex(/^[a-z]+\.[a-z0-9-]+$/, 'a rule id such as command.recursive-delete')).optional(),
  network: z
    .strictObject({
      allowCidrs: z.array(cidr).optional(),
      allowHosts: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  exec: z
    .strictObject({
      sandbox: z.enum(sandboxModes).optional(),
      network: z.boolean().optional(),
      limits: execLimitsSchema.partial().optional(),
    })
    .optional(),
});

export type CustomProfile = z.infer<typeof customProfileSchema>;
