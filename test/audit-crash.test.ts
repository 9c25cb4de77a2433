import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog, loadAuditKey, type AuditRecord } from '../src/audit/index.js';
import { auditTail, auditVerify } from '../src/cli/audit-commands.js';
import { migrateToLatest, openStore, type Dialect, type Store } from '../src/store/index.js';
import { createScratchDatabase, postgresUrl, type ScratchDatabase } from './support/postgres.js';

/** Runs from dist/, which the test command builds first (`npx tsc -p tsconfig.build.json`). */
const WRITER = fileURLToPath(new URL('./fixtures/audit-writer.js', import.meta.url));

interface KilledWriter {
  /** seq → id of every event whose append had resolved when the writer died. */
  answered: Map<number, string>;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Starts the writer, lets it append for `runMs` after it is ready, then SIGKILLs it mid-stream. */
function runAndKillWriter(dataDir: string, databaseUrl: string | undefined, runMs: number): Promise<KilledWriter> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dataDir, ...(databaseUrl === undefined ? [] : [databaseUrl])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (killTimer === undefined && stdout.startsWith('ready\n')) killTimer = setTimeout(() => child.kill('SIGKILL'), runMs);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      clearTimeout(killTimer);
      const answered = new Map<number, string>();
      // A line cut by the kill was never completely written, so it was not an answer.
      for (const line of stdout.split('\n').slice(1, -1)) {
        const [seq, id] = line.split(' ');
        answered.set(Number(seq), id ?? '');
      }
      resolve({ answered, signal, stderr });
    });
  });
}

function textSink(): { out: Writable; text(): string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { out, text: () => text };
}

async function storedIds(store: Store): Promise<Map<number, string>> {
  const rows = await store.db.selectFrom('audit_events').select(['seq', 'id']).execute();
  return new Map(rows.map((row) => [Number(row.seq), row.id]));
}

describe.each<Dialect>(['sqlite', 'postgres'])('audit log killed while writing, on %s', (dialect) => {
  let dataDir: string;
  let scratch: ScratchDatabase | undefined;
  let store: Store;
  let key: Buffer;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ironcode-audit-crash-'));
    scratch = dialect === 'postgres' ? await createScratchDatabase(postgresUrl()) : undefined;
    store = openStore({ dataDir, databaseUrl: scratch?.url });
    await migrateToLatest(store);
    // Created here so the writer reads the same key file instead of racing to make one.
    key = loadAuditKey(dataDir, {}).key;
  });
  afterEach(async () => {
    await store.close();
    await scratch?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('leaves a log that verifies, holding every answered event', async () => {
    const { answered, signal, stderr } = await runAndKillWriter(dataDir, scratch?.url, 1000);
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(answered.size).toBeGreaterThan(100);

    const sink = textSink();
    expect(await auditVerify(store, key, sink.out)).toBe(0);
    expect(sink.text()).toMatch(/^audit log intact: \d+ events, last seq \d+\n$/);

    const stored = await storedIds(store);
    const missing = [...answered].filter(([seq, id]) => stored.get(seq) !== id);
    expect(missing).toEqual([]);
    // The log may hold more than was answered (committed, killed before printing), never less.
    expect(stored.size).toBeGreaterThanOrEqual(answered.size);

    // A fresh writer carries on from the crashed one's last commit.
    const record = await createAuditLog(store, { key }).append({ principal: 'cli', principalKind: 'local-operator', action: 'audit.after-crash', resource: '*', decision: 'allowed' });
    expect(record.seq).toBe(stored.size + 1);
    expect(await auditVerify(store, key, textSink().out)).toBe(0);
  });

  it('does not stall or fork another process writing beside it', async () => {
    const log = createAuditLog(store, { key, maxBatch: 32 });
    const mine: AuditRecord[] = [];
    let writing = true;
    const appending = (async () => {
      for (let i = 0; writing; i++) {
        const batch = await Promise.all(Array.from({ length: 16 }, () => log.append({ principal: 'usr_parent', principalKind: 'user', action: 'crash.beside', resource: `item:${i}`, decision: 'allowed' })));
        mine.push(...batch);
      }
    })();
    const killed = await runAndKillWriter(dataDir, scratch?.url, 1000);
    // Keep writing after the kill: the dead writer's lock must not outlive it.
    const afterKill = mine.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    writing = false;
    await appending;
    await log.close();

    expect(killed.stderr).toBe('');
    expect(killed.answered.size).toBeGreaterThan(50);
    expect(mine.length).toBeGreaterThan(afterKill);
    const stored = await storedIds(store);
    for (const [seq, id] of killed.answered) expect(stored.get(seq)).toBe(id);
    for (const record of mine) expect(stored.get(record.seq)).toBe(record.id);
    const seqs = [...stored.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    const sink = textSink();
    expect(await auditVerify(store, key, sink.out)).toBe(0);
    expect(sink.text()).toBe(`audit log intact: ${seqs.length} events, last seq ${seqs.length}\n`);
  });

  it('audit verify names the first bad seq, audit tail prints the newest events oldest first', async () => {
    const log = createAuditLog(store, { key, clock: { now: () => Date.UTC(2026, 0, 2, 3, 4, 5) } });
    for (let i = 1; i <= 5; i++) {
      await log.append({
        principal: i === 4 ? 'usr_\u001b[2Jevil' : 'usr_alice',
        principalKind: 'user',
        action: i % 2 === 0 ? 'auth.login' : 'tool.invoke',
        resource: `item:${i}`,
        decision: i === 3 ? 'denied' : 'allowed',
        ...(i === 3 ? { reason: 'lacks permission tools:invoke' } : {}),
        args: { password: 'x' },
      });
    }

    const tail = textSink();
    await auditTail(store, { limit: 3, json: false }, tail.out);
    expect(tail.text()).toBe(
      [
        '2026-01-02T03:04:05.000Z  #3  denied   usr_alice  tool.invoke  item:3  — lacks permission tools:invoke',
        '2026-01-02T03:04:05.000Z  #4  allowed  usr_\\u001b[2Jevil  auth.login  item:4',
        '2026-01-02T03:04:05.000Z  #5  allowed  usr_alice  tool.invoke  item:5',
        '',
      ].join('\n'),
    );

    const json = textSink();
    await auditTail(store, { limit: 10, json: true, action: 'auth.*' }, json.out);
    const lines = json.text().trimEnd().split('\n').map((line) => JSON.parse(line) as AuditRecord);
    expect(lines.map((r) => r.seq)).toEqual([2, 4]);
    expect(lines[0]).toMatchObject({ action: 'auth.login', args: { password: '[REDACTED]' } });

    await store.db.updateTable('audit_events').set({ decision: 'allowed', reason: null }).where('seq', '=', 3).execute();
    const verdict = textSink();
    expect(await auditVerify(store, key, verdict.out)).toBe(1);
    expect(verdict.text()).toBe('audit log BROKEN at seq 3: hash does not match its content (edited?)\n');
  });
});
