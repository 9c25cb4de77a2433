// Policy decision cost over a mixed set of actions: the public corpus plus
// longer pipelines, in-process, after warm-up. Reports median and p99 per kind.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHost, createPolicy, builtinProfile, actionSchema } from '../dist/policy/index.js';
import { summarise, timeEach } from './stats.js';

export async function benchPolicyDecisions({ rounds = 30 } = {}) {
  const workspace = mkdtempSync(path.join(tmpdir(), 'ironcode-bench-'));
  mkdirSync(path.join(workspace, 'src'), { recursive: true });
  writeFileSync(path.join(workspace, 'package.json'), '{}');
  const corpus = readFileSync(new URL('../../shared/corpus/policy-public.jsonl', import.meta.url), 'utf8')
    .split('\n').filter(Boolean).map((l) => actionSchema.parse(JSON.parse(l).action));
  const extra = [
    { kind: 'command', line: 'git log --oneline -n 20 | grep -i fix | sort | uniq -c | sort -rn | head -5 > top.txt' },
    { kind: 'command', line: 'timeout 30 nice -n 5 env FOO=1 npm test -- --reporter=dot' },
    { kind: 'command', argv: ['python3', 'scripts/migrate.py', '--dry-run'] },
    { kind: 'path', op: 'write', path: 'src/deep/new/file.ts' },
  ];
  const actions = [...corpus, ...extra];
  const host = createHost();
  // DNS is not what is measured here: names resolve to a fixed public address.
  const policy = await createPolicy({ profile: builtinProfile('standard'), roots: [workspace], host: { ...host, resolve: async () => ['93.184.215.14'] } });
  // The first pass sees every line for the first time (no parse cache); it is also
  // the warm-up for the repeated rounds.
  const firstSeen = [];
  for (const action of actions) {
    const [ms] = await timeEach(1, () => policy.decide(action));
    if (action.kind === 'command') firstSeen.push(ms);
  }
  const byKind = { command: [], path: [], url: [] };
  for (let r = 0; r < rounds; r++) {
    for (const action of actions) {
      const [ms] = await timeEach(1, () => policy.decide(action));
      byKind[action.kind].push(ms);
    }
  }
  rmSync(workspace, { recursive: true, force: true });
  return {
    actions: actions.length,
    rounds,
    all: summarise([...byKind.command, ...byKind.path, ...byKind.url]),
    command: summarise(byKind.command),
    commandFirstSeen: summarise(firstSeen),
    path: summarise(byKind.path),
    url: summarise(byKind.url),
  };
}
