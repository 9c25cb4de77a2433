/**
 * Writing tools: write_file, create_directory, move_file. They are thin on purpose:
 * GuardedFs does the judging and the careful parts (temp file + rename, O_NOFOLLOW,
 * a move needing read and delete on its source so a secret cannot be renamed into
 * a readable name); the tools add the contract a model sees.
 */
import { z } from 'zod';
import { anyTool, defineTool } from '../tool.js';

export const writeFile = defineTool('desktop', {
  name: 'write_file',
  title: 'Write a file',
  description: 'Create or replace a text file with the given content, or append to it; written atomically.',
  usage: [
    'mode "rewrite" (default) replaces the whole file; "append" adds content to its end (creating it if needed).',
    'The file is written to a temporary file beside it and renamed into place, so a reader never sees half a file,',
    'and an existing file keeps its permissions. Missing parent directories are not created: use create_directory.',
    'Writing through a link that leads outside the workspace is refused; a link inside it is followed to its target.',
    'For a change to part of a file, edit_block is safer than rewriting it.',
  ].join(' '),
  input: z.strictObject({
    path: z.string().min(1).describe('The file to write.'),
    content: z.string().describe('The text to write (UTF-8).'),
    mode: z.enum(['rewrite', 'append']).optional(),
  }),
  output: z.object({
    path: z.string(),
    /** Bytes written by this call (for append: the bytes added). */
    bytes: z.number().int(),
    created: z.boolean(),
  }),
  risk: 'write',
  // Not idempotent as a tool: a repeated append adds the content twice.
  hints: { destructive: true, idempotent: false },
  async run(ctx, input) {
    return ctx.fs.writeFile(input.path, input.content, { append: input.mode === 'append' });
  },
  text: (output) => `${output.created ? 'Created' : 'Wrote'} ${output.path} (${output.bytes} bytes)`,
  auditResult: (output) => ({ path: output.path, bytes: output.bytes, created: output.created }),
});

export const createDirectory = defineTool('desktop', {
  name: 'create_directory',
  title: 'Create a directory',
  description: 'Create a directory and any missing parents; succeeds if it already exists.',
  input: z.strictObject({ path: z.string().min(1).describe('The directory to create.') }),
  output: z.object({ path: z.string(), created: z.boolean() }),
  risk: 'write',
  hints: { destructive: false, idempotent: true },
  async run(ctx, input) {
    return ctx.fs.mkdir(input.path);
  },
  text: (output) => (output.created ? `Created ${output.path}` : `${output.path} already exists`),
  auditResult: (output) => ({ path: output.path, created: output.created }),
});

export const moveFile = defineTool('desktop', {
  name: 'move_file',
  title: 'Move or rename a file',
  description: 'Move or rename a file or directory; never replaces an existing destination.',
  usage: [
    'Renames source to destination (both inside the workspace). Fails if the destination exists, so nothing is',
    'overwritten. Needs the policy to allow reading and deleting the source and writing the destination: a file the',
    'policy keeps secret (such as .env) cannot be renamed into a readable name, and a directory can only be moved',
    'when nothing in it is secret.',
  ].join(' '),
  input: z.strictObject({
    source: z.string().min(1).describe('What to move.'),
    destination: z.string().min(1).describe('Its new path (must not exist).'),
  }),
  output: z.object({ from: z.string(), to: z.string() }),
  risk: 'write',
  hints: { destructive: true, idempotent: false },
  async run(ctx, input) {
    return ctx.fs.move(input.source, input.destination);
  },
  text: (output) => `Moved ${output.from} to ${output.to}`,
  auditResult: (output) => ({ from: output.from, to: output.to }),
});

export const writeTools = [anyTool(writeFile), anyTool(createDirectory), anyTool(moveFile)];
