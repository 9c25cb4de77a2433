import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../core/index.js';
import { CHAIN_MODES } from './chain-schema.js';
import { getChain, listChains, parseChains, renderChain } from './chains.js';

/** Chain definitions as inline YAML: one chain, the fields under test, the rest filled in. */
function yaml(chain: string): string {
  return `chains:\n  - id: probe\n    title: Probe chain\n    description: A chain made up for the loading tests.\n${chain}`;
}

function refusal(text: string): ValidationError {
  try {
    parseChains(text, { source: 'probe.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected the chain definitions to be refused');
}

describe('built-in chains', () => {
  const chains = listChains();

  it('are at least 12, covering every mode', () => {
    expect(chains.length).toBeGreaterThanOrEqual(12);
    expect(new Set(chains.map((c) => c.mode))).toEqual(new Set(CHAIN_MODES));
  });

  it.each(chains)('$id renders with its example', (chain) => {
    const plan = renderChain(chain, chain.example);
    expect(plan.chain).toBe(chain.id);
    expect(plan.steps.map((s) => s.id).sort()).toEqual(chain.steps.map((s) => s.id).sort());
    for (const step of plan.steps) {
      expect(step.argv.length).toBeGreaterThan(0);
      expect(step.argv.every((a) => typeof a === 'string')).toBe(true);
    }
  });

  it('disk-pressure is a pipeline: each step reads the one before', () => {
    const plan = renderChain(getChain('disk-pressure'), { path: 'src', depth: 3, top: 5 });
    expect(plan.steps.map((s) => [s.argv, s.stdinFrom])).toEqual([
      [['du', '-x', '-h', '-d', '3', 'src'], undefined],
      [['sort', '-h', '-r'], 'usage'],
      [['head', '-n', '5'], 'rank'],
    ]);
    expect(plan.profile).toBe('strict');
    expect(plan.steps.every((s) => s.after.length === 0)).toBe(true);
  });

  it('failing-service-triage carries its conditions into the plan', () => {
    const plan = renderChain(getChain('failing-service-triage'), { unit: 'postgresql.service' });
    expect(plan.mode).toBe('conditional');
    expect(plan.steps[0]).toMatchObject({ id: 'failed', argv: ['systemctl', 'is-failed', 'postgresql.service'], after: [] });
    expect(plan.steps.find((s) => s.id === 'status')).toMatchObject({ when: { step: 'failed', status: 'success' } });
    expect(plan.steps.find((s) => s.id === 'recent')).toMatchObject({ when: { step: 'failed', status: 'failure' } });
    // The default of the chain's `since` reaches the command in its rendered form.
    expect(plan.steps.find((s) => s.id === 'errors')!.argv).toEqual(expect.arrayContaining(['--since', '1 hour ago', '-p', 'warning']));
  });

  it('sequential steps each wait for the one before; parallel ones for none', () => {
    const sequential = renderChain(getChain('release-readiness'), { since: 'v1.0.0' });
    expect(sequential.stopOnFailure).toBe(true);
    expect(sequential.steps.map((s) => s.after)).toEqual([[], ['status'], ['changes'], ['types']]);
    expect(sequential.risk).toBe('execute');
    const parallel = renderChain(getChain('health-check'), {});
    expect(parallel.steps.every((s) => s.after.length === 0)).toBe(true);
  });

  it('reports the profile and network a plan needs as those of its most demanding step', () => {
    const plan = renderChain(getChain('network-diagnosis'), { host: 'example.org' });
    expect(plan.profile).toBe('permissive');
    expect(plan.network).toBe(true);
  });

  it.each([
    ['a missing required parameter', 'port-owner', {}, /params\.port: is required/],
    ['a negative port', 'port-owner', { port: -1 }, /params\.port: -1 is out of range/],
    ['an option for a path', 'disk-pressure', { path: '-rf' }, /params\.path: .* starts with "-"/],
    ['shell syntax for a host', 'network-diagnosis', { host: 'example.com; id' }, /params\.host/],
    ['an unknown parameter', 'port-owner', { port: 80, command: 'id' }, /params\.command: is not a parameter of port-owner/],
  ])('refuses %s in the chain params', (_what, id, params, message) => {
    expect(() => renderChain(getChain(id), params)).toThrow(message);
  });

  it('keeps a hostile but valid value as one element in every step', () => {
    const plan = renderChain(getChain('certificate-expiry'), { file: '$(id); rm -rf /.crt' });
    for (const step of plan.steps) expect(step.argv.filter((a) => a === '$(id); rm -rf /.crt')).toHaveLength(1);
  });

  it('names a chain it does not know', () => {
    expect(() => getChain('no-such-chain')).toThrow(NotFoundError);
  });
});

describe('chain definitions that are refused', () => {
  it.each([
    ['invalid YAML', 'chains: [\n', /not valid YAML/],
    ['an unknown field', yaml('    mode: sequential\n    retries: 3\n    steps:\n      - { id: a, command: uptime-load }\n'), /Unrecognized key: "retries"/],
    ['an unknown mode', yaml('    mode: eventually\n    steps:\n      - { id: a, command: uptime-load }\n'), /probe|mode/],
    ['an unknown command id', yaml('    mode: sequential\n    steps:\n      - { id: a, command: format-disk }\n'), /probe\.steps\.a\.command: unknown command "format-disk"/],
    ['an unknown command parameter', yaml('    mode: sequential\n    steps:\n      - { id: a, command: port-owner, params: { port: 80, host: x } }\n'), /probe\.steps\.a\.params\.host: is not a parameter of port-owner \(known: port\)/],
    ['a missing command parameter', yaml('    mode: sequential\n    steps:\n      - { id: a, command: port-owner }\n'), /probe\.steps\.a\.params\.port: port-owner requires port/],
    ['a literal of the wrong type', yaml('    mode: sequential\n    steps:\n      - { id: a, command: port-owner, params: { port: http } }\n'), /params\.port: must be a whole number.*\(param\.type\)/],
    ['a literal out of range', yaml('    mode: sequential\n    steps:\n      - { id: a, command: port-owner, params: { port: 70000 } }\n'), /params\.port: 70000 is out of range/],
    ['a literal that is an option', yaml('    mode: sequential\n    steps:\n      - { id: a, command: disk-free, params: { path: --all } }\n'), /params\.path: .*starts with "-".*\(param\.leading-dash\)/],
    [
      'a chain parameter of the wrong type',
      yaml('    mode: sequential\n    params:\n      - { name: port, type: string, required: true, description: a port number }\n    example: { port: "80" }\n    steps:\n      - { id: a, command: port-owner, params: { port: "{port}" } }\n'),
      /chain parameter port cannot feed port-owner's port: one is a string, the other a port/,
    ],
    [
      'an enum chain parameter with values the command lacks',
      yaml('    mode: sequential\n    params:\n      - { name: sort, type: enum, values: [cpu, disk], default: cpu, description: sort order }\n    steps:\n      - { id: a, command: k8s-top-pods, params: { sort: "{sort}" } }\n'),
      /disk is not among cpu, memory/,
    ],
    [
      'an integer chain parameter wider than the command allows',
      yaml('    mode: sequential\n    params:\n      - { name: n, type: integer, min: 1, max: 100, default: 5, description: sample count }\n    steps:\n      - { id: a, command: vmstat-sample, params: { count: "{n}" } }\n'),
      /the chain allows 1\.\.100, the command 1\.\.30/,
    ],
    [
      'an optional chain parameter feeding a required one',
      yaml('    mode: sequential\n    params:\n      - { name: port, type: port, description: a port number }\n    steps:\n      - { id: a, command: port-owner, params: { port: "{port}" } }\n'),
      /port-owner requires port, but chain parameter port is optional and has no default/,
    ],
    ['a reference to an unknown chain parameter', yaml('    mode: sequential\n    steps:\n      - { id: a, command: port-owner, params: { port: "{p}" } }\n'), /\{p\} is not a parameter of the chain/],
    [
      'a chain parameter spliced into text',
      yaml('    mode: sequential\n    params:\n      - { name: dir, type: path, default: ".", description: a directory }\n    steps:\n      - { id: a, command: disk-free, params: { path: "{dir}/sub" } }\n'),
      /splices \{dir\} into text/,
    ],
    [
      'an unused chain parameter',
      yaml('    mode: sequential\n    params:\n      - { name: dir, type: path, default: ".", description: a directory }\n    steps:\n      - { id: a, command: uptime-load }\n'),
      /probe\.params\.dir: is declared but no step uses it/,
    ],
    ['a duplicate step id', yaml('    mode: parallel\n    steps:\n      - { id: a, command: uptime-load }\n      - { id: a, command: memory-summary }\n'), /probe\.steps\.a: the step id is used twice/],
    ['a condition outside a conditional chain', yaml('    mode: sequential\n    steps:\n      - { id: a, command: uptime-load }\n      - { id: b, command: memory-summary, when: { step: a, status: success } }\n'), /only conditional chains have conditions/],
    ['a conditional chain without conditions', yaml('    mode: conditional\n    steps:\n      - { id: a, command: uptime-load }\n'), /needs at least one step with when/],
    ['stopOnFailure on a parallel chain', yaml('    mode: parallel\n    stopOnFailure: true\n    steps:\n      - { id: a, command: uptime-load }\n'), /only sequential chains stop on failure/],
    ['a condition on an unknown step', yaml('    mode: conditional\n    steps:\n      - { id: a, command: uptime-load }\n      - { id: b, command: memory-summary, when: { step: c, status: success } }\n'), /probe\.steps\.b\.when: refers to unknown step "c"/],
    ['a step conditioned on itself', yaml('    mode: conditional\n    steps:\n      - { id: a, command: uptime-load, when: { step: a, status: success } }\n'), /step a depends on itself \(a cycle\)/],
    [
      'conditions that form a cycle',
      yaml('    mode: conditional\n    steps:\n      - { id: a, command: uptime-load, when: { step: c, status: success } }\n      - { id: b, command: memory-summary, when: { step: a, status: failure } }\n      - { id: c, command: disk-free, when: { step: b, status: success } }\n'),
      /the conditions form a cycle: a → c → b → a/,
    ],
    ['a pipeline step that reads no input', yaml('    mode: pipeline\n    steps:\n      - { id: a, command: processes-by-cpu }\n      - { id: b, command: uptime-load }\n'), /uptime-load does not read standard input, so it cannot follow another step/],
    ['a one-step pipeline', yaml('    mode: pipeline\n    steps:\n      - { id: a, command: processes-by-cpu }\n'), /a pipeline needs at least two steps/],
    [
      'an example that does not validate',
      yaml('    mode: sequential\n    params:\n      - { name: port, type: port, required: true, description: a port number }\n    example: { port: -5 }\n    steps:\n      - { id: a, command: port-owner, params: { port: "{port}" } }\n'),
      /probe\.example: does not render: .*params\.port: -5 is out of range/,
    ],
    [
      'a chain id used twice',
      'chains:\n  - { id: twin, title: Twin one, description: The first of two chains with one id., mode: parallel, steps: [{ id: a, command: uptime-load }] }\n  - { id: twin, title: Twin two, description: The second of two chains with one id., mode: parallel, steps: [{ id: a, command: uptime-load }] }\n',
      /twin: the chain id is used twice/,
    ],
  ])('%s', (_what, text, message) => {
    expect(refusal(text).message).toMatch(message);
  });

  it('lists every problem of a definition at once, each with its path', () => {
    const error = refusal(yaml('    mode: sequential\n    steps:\n      - { id: a, command: nope }\n      - { id: b, command: port-owner, params: { port: 0, colour: red } }\n'));
    expect(error.issues.map((i) => i.path).sort()).toEqual(['probe.steps.a.command', 'probe.steps.b.params.colour', 'probe.steps.b.params.port']);
  });

  it('orders conditional steps after the step they depend on, whatever the listing order', () => {
    const [chain] = parseChains(
      yaml('    mode: conditional\n    steps:\n      - { id: late, command: memory-summary, when: { step: early, status: failure } }\n      - { id: early, command: uptime-load }\n'),
    );
    const plan = renderChain(chain!, {});
    expect(plan.steps.map((s) => s.id)).toEqual(['early', 'late']);
    expect(plan.steps[1]).toMatchObject({ after: ['early'], when: { step: 'early', status: 'failure' } });
  });

  it('accepts a sound definition and freezes it', () => {
    const chains = parseChains(yaml('    mode: parallel\n    steps:\n      - { id: a, command: uptime-load }\n      - { id: b, command: memory-summary }\n'));
    expect(chains).toHaveLength(1);
    expect(Object.isFrozen(chains[0])).toBe(true);
  });
});
