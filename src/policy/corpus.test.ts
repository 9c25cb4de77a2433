import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionSchema } from './action.js';
import { createHost } from './host.js';
import { createPolicy, type Policy } from './kernel.js';
import { builtinProfile } from './profiles.js';

/** The shared sample of the standard profile's rules; every line must hold. */
const corpusFile = path.resolve(fileURLToPath(import.meta.url), '../../../../shared/corpus/policy-public.jsonl');
const cases = readFileSync(corpusFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { expect: 'allow' | 'deny'; why: string; action: unknown });

let workspace: string;
let policy: Policy;

beforeAll(async () => {
  workspace = mkdtempSync(path.join(tmpdir(), 'ironcode-corpus-'));
  for (const dir of ['src/config', 'scripts', 'tls', 'deploy', 'reports', 'node_modules/.cache', '.git/hooks']) mkdirSync(path.join(workspace, dir), { recursive: true });
  for (const file of ['package.json', 'README.md', 'access.log', 'src/index.ts', 'scripts/migrate.py', '.env.sample', '.env.local']) writeFileSync(path.join(workspace, file), 'x\n');
  const host = createHost();
  // Names resolve to a public address so no test depends on the network.
  policy = await createPolicy({ profile: builtinProfile('standard'), roots: [workspace], host: { ...host, resolve: async () => ['93.184.215.14'] } });
});

afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('public policy corpus (standard profile)', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThan(50));
  for (const c of cases) {
    it(`${c.expect} ${c.why}: ${JSON.stringify(c.action)}`, async () => {
      const action = actionSchema.parse(c.action);
      const decision = await policy.decide(action, { cwd: workspace });
      expect(decision.allowed, `${decision.rule}: ${decision.reason}`).toBe(c.expect === 'allow');
      expect(decision.rule).toMatch(/^[a-z]+\.[a-z0-9-]+$/);
      expect(decision.reason.length).toBeGreaterThan(5);
    });
  }
});
