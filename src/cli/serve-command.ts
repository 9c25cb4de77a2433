import type { Command } from 'commander';
import type { ServeFlags } from './serve.js';

export function registerServe(program: Command, exit: { code: number }, version: string): void {
  program
    .command('serve')
    .description('run the HTTP server (default 127.0.0.1:7400) on the store in the data directory or IRONCODE_DATABASE_URL')
    .option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)')
    .option('--data-dir <dir>', 'data directory (default: ./.ironcode)')
    .option('--profile <name>', 'safety profile for the tools: strict, standard, permissive or a custom profile .yaml')
    .option('--root <dir>', 'workspace root for the tools (repeatable; default: the current directory)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--host <host>', 'address to listen on')
    .option('--port <port>', 'port to listen on (0 picks a free one)')
    .action(async (flags: ServeFlags) => {
      const { serve } = await import('./serve.js');
      exit.code = await serve(flags, version);
    });
}
