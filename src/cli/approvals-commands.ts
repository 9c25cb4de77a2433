import { Option, type Command } from 'commander';
import { parseDuration } from '../core/index.js';
import type { Approvals, ApprovalView } from '../tools/index.js';
import type { ServiceRuntime } from './service-runtime.js';
import { loadStoreConfig, type StoreFlags } from './store-flags.js';

const write = (line: string) => process.stdout.write(`${line}\n`);

async function withApprovals<T>(flags: StoreFlags, work: (runtime: ServiceRuntime, approvals: Approvals) => Promise<T>): Promise<T> {
  const [{ openServiceRuntime }, { createApprovals }] = await Promise.all([import('./service-runtime.js'), import('../tools/index.js')]);
  const runtime = await openServiceRuntime(loadStoreConfig(flags));
  try {
    return await work(runtime, createApprovals({ db: runtime.store.db, audit: runtime.audit, rbac: runtime.identity.rbac, clock: runtime.clock }));
  } finally {
    await runtime.close();
  }
}

function line(approval: ApprovalView): string {
  return `${approval.id}  ${approval.status.padEnd(7)}  ${approval.requestedAt}  ${approval.principalName} (${approval.principalId})  ${approval.tool}  ${approval.action.summary}  [${approval.rule}]`;
}

function storeOptions(command: Command): Command {
  return command.option('--config <file>', 'config file (default: ./ironcode.config.yaml when present)').option('--data-dir <dir>', 'data directory (default: ./.ironcode)');
}

/** `ironcode approvals list|show|grant|deny`: the administrator's side of `ask` rules. */
export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('requests to allow actions the profile marks "ask"');
  const actor = async () => (await import('../identity/index.js')).cliPrincipal();

  storeOptions(approvals.command('list'))
    .description('list approval requests, newest first')
    .addOption(new Option('--status <status>', 'only these').choices(['pending', 'granted', 'denied', 'used', 'expired']))
    .option('--json', 'one JSON object per line')
    .action(async (flags: StoreFlags & { status?: 'pending'; json?: boolean }) => {
      await withApprovals(flags, async (_runtime, service) => {
        const found = await service.list(await actor(), flags.status === undefined ? {} : { status: flags.status });
        for (const approval of found) write(flags.json === true ? JSON.stringify(approval) : line(approval));
      });
    });

  storeOptions(approvals.command('grant'))
    .description('allow the exact action of a pending request, once, for its principal')
    .argument('<id>', 'the approval id (apr_…) from the refusal or `approvals list`')
    .option('--for <duration>', 'how long the grant stays usable (default 15m)')
    .action(async (id: string, flags: StoreFlags & { for?: string }) => {
      await withApprovals(flags, async (_runtime, service) => {
        const granted = await service.grant(await actor(), id, flags.for === undefined ? {} : { forMs: parseDuration(flags.for, '--for') * 1000 });
        write(`granted ${granted.id}: ${granted.principalName} may now run ${granted.action.summary} once, until ${granted.expiresAt}`);
      });
    });

  storeOptions(approvals.command('deny'))
    .description('refuse a pending request')
    .argument('<id>', 'the approval id')
    .action(async (id: string, flags: StoreFlags) => {
      await withApprovals(flags, async (_runtime, service) => {
        const denied = await service.deny(await actor(), id);
        write(`denied ${denied.id}: ${denied.action.summary}`);
      });
    });
}
