// `true` spawned directly, through ironcode's guarded path without and with the
// sandbox, in one run, interleaved so machine noise hits every variant alike.
// Also the whole CLI (`ironcode exec true`) against a bare node that spawns true.
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolicy, builtinProfile } from '../dist/policy/index.js';
import { runScript, sandboxPlan } from '../dist/exec/index.js';
import { summarise } from './stats.js';

function spawnTrue() {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/true', [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

function runProcess(argv, cwd, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore', cwd, env });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

export async function benchSpawnOverhead({ iterations = 200, cliIterations = 20 } = {}) {
  const workspace = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-bench-')));
  const profile = builtinProfile('standard');
  const policy = await createPolicy({ profile, roots: [workspace] });
  const sandbox = await sandboxPlan({ mode: 'required', network: false, roots: [workspace] });
  const limits = profile.exec.limits;

  const judgeOnly = async () => policy.judgeCommand({ line: 'true' }, { cwd: workspace });
  // A line never seen before, so the parse cache cannot help: the cost of a new command.
  let unique = 0;
  const judgeUnique = async () => policy.judgeCommand({ line: `true ${unique++}` }, { cwd: workspace });
  const guarded = async (plan) => {
    const { decision, script } = await policy.judgeCommand({ line: 'true' }, { cwd: workspace });
    if (!decision.allowed) throw new Error(decision.reason);
    const result = await runScript(script, { cwd: workspace, roots: [workspace], limits, sandbox: plan });
    if (result.exitCode !== 0) throw new Error(`true exited ${result.exitCode}: ${result.stderr}`);
  };
  const variants = {
    direct: spawnTrue,
    policyCheckOnly: judgeOnly,
    policyCheckUniqueLine: judgeUnique,
    guardedUnsandboxed: () => guarded(null),
    guardedSandboxed: () => guarded(sandbox),
  };
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const interleavedCheck = [];
  for (let i = 0; i < 20; i++) for (const fn of Object.values(variants)) await fn();
  // Rounds of short blocks, one variant after another, so machine noise spreads over
  // every variant while each is measured in the steady state it would run in.
  const block = 10;
  for (let round = 0; round < iterations / block; round++) {
    for (const [name, fn] of Object.entries(variants)) {
      for (let i = 0; i < block; i++) {
        const start = performance.now();
        await fn();
        samples[name].push(performance.now() - start);
      }
    }
    // The same check right after a spawn: the parent's first writes after fork() take
    // copy-on-write page faults, a cost of the spawn that lands on whatever runs next.
    for (let i = 0; i < block; i++) {
      await spawnTrue();
      const start = performance.now();
      await judgeOnly();
      interleavedCheck.push(performance.now() - start);
    }
  }
  const bin = fileURLToPath(new URL('../bin/ironcode.js', import.meta.url));
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('IRONCODE_')));
  const cli = {
    nodeSpawnsTrue: [['node', '-e', "require('child_process').spawnSync('/usr/bin/true')"], base],
    ironcodeExecOff: [['node', bin, 'exec', '--root', workspace, 'true'], { ...base, IRONCODE_EXEC_SANDBOX: 'off' }],
    ironcodeExecSandboxed: [['node', bin, 'exec', '--root', workspace, 'true'], { ...base, IRONCODE_EXEC_SANDBOX: 'required' }],
  };
  const cliSamples = Object.fromEntries(Object.keys(cli).map((k) => [k, []]));
  for (let i = 0; i < cliIterations; i++) {
    for (const [name, [argv, env]] of Object.entries(cli)) {
      const start = performance.now();
      await runProcess(argv, workspace, env);
      cliSamples[name].push(performance.now() - start);
    }
  }
  rmSync(workspace, { recursive: true, force: true });
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarise(v)]));
  s.policyCheckRightAfterSpawn = summarise(interleavedCheck);
  const c = Object.fromEntries(Object.entries(cliSamples).map(([k, v]) => [k, summarise(v)]));
  return {
    inProcess: s,
    cli: c,
    ratios: {
      policyCheckVsDirectSpawn: s.policyCheckOnly.medianMs / s.direct.medianMs,
      policyCheckUniqueLineVsDirectSpawn: s.policyCheckUniqueLine.medianMs / s.direct.medianMs,
      policyCheckRightAfterSpawnVsDirectSpawn: s.policyCheckRightAfterSpawn.medianMs / s.direct.medianMs,
      guardedUnsandboxedVsDirect: s.guardedUnsandboxed.medianMs / s.direct.medianMs,
      guardedSandboxedVsDirect: s.guardedSandboxed.medianMs / s.direct.medianMs,
      cliUnsandboxedVsNodeSpawn: c.ironcodeExecOff.medianMs / c.nodeSpawnsTrue.medianMs,
      cliSandboxedVsNodeSpawn: c.ironcodeExecSandboxed.medianMs / c.nodeSpawnsTrue.medianMs,
    },
  };
}
