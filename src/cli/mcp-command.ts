import { Option, type Command } from 'commander';
import type { McpFlags } from './mcp.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerMcp(program: Command, exit: { code: number }, version: string): void {
  program
    .command('mcp')
    .description('serve the tools over MCP on stdin/stdout, for Claude Desktop, Claude Code and other MCP clients')
    .option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)')
    .option('--profile <name>', 'safety profile: strict, standard, permissive or a custom profile .yaml')
    .option('--root <dir>', 'workspace root (repeatable; default: the current directory)', collect)
    .option('--data-dir <dir>', 'data directory (default: ./.ironcode)')
    .option('--api-key <key>', 'the API key to act as (default: IRONCODE_API_KEY); without one, the configured local operator')
    .addOption(new Option('--descriptions <mode>', 'tool descriptions in tools/list').choices(['short', 'full']).default('short'))
    .action(async (flags: McpFlags) => {
      const { serveMcp } = await import('./mcp.js');
      exit.code = await serveMcp(flags, version);
    });
}
