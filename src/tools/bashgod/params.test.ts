import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/index.js';
import { commandSchema, paramSchema, type CommandSpec, type ParamSpec } from './catalogue-schema.js';
import { checkParamValue, validateParams, type ParamRule } from './params.js';
import { renderCommand } from './render.js';

/**
 * Parameter validation and rendering, one table row per value: the declaration,
 * the value, and either the normalised value or the rule that refuses it. Hostile
 * values are the point: whatever is accepted must still end up as one element.
 */

function param(spec: Record<string, unknown>): ParamSpec {
  return paramSchema.parse({ name: 'p', description: 'a parameter under test', ...spec });
}

function command(spec: Record<string, unknown>): CommandSpec {
  return commandSchema.parse({
    id: 'test-command',
    category: 'system',
    title: 'A test command',
    description: 'A command built for the parameter tests only.',
    risk: 'read',
    profile: 'strict',
    platforms: ['linux'],
    requires: ['tool'],
    ...spec,
  });
}

const LONG = 'a'.repeat(5000);

type Row = readonly [label: string, spec: Record<string, unknown>, value: unknown, expected: { ok: unknown } | { rule: ParamRule }];

const ROWS: Row[] = [
  // paths: anything a file name can be, except an option or a control character
  ['path: plain relative', { type: 'path' }, 'logs/app.log', { ok: 'logs/app.log' }],
  ['path: climbing out stays a value (the policy refuses it)', { type: 'path' }, '../../etc/shadow', { ok: '../../etc/shadow' }],
  ['path: shell separators are just characters', { type: 'path' }, '; rm -rf /', { ok: '; rm -rf /' }],
  ['path: command substitution is just characters', { type: 'path' }, '$(id)', { ok: '$(id)' }],
  ['path: backticks are just characters', { type: 'path' }, '`id`', { ok: '`id`' }],
  ['path: an option is refused', { type: 'path' }, '--output=/etc/passwd', { rule: 'param.leading-dash' }],
  ['path: an ssh option is refused', { type: 'path' }, '-oProxyCommand=x', { rule: 'param.leading-dash' }],
  ['path: a lone dash is refused', { type: 'path' }, '-', { rule: 'param.leading-dash' }],
  ['path: newline', { type: 'path' }, 'a\nb', { rule: 'param.control-character' }],
  ['path: carriage return', { type: 'path' }, 'a\rb', { rule: 'param.control-character' }],
  ['path: NUL', { type: 'path' }, 'a\0b', { rule: 'param.control-character' }],
  ['path: escape sequence', { type: 'path' }, 'a\u001b[31mb', { rule: 'param.control-character' }],
  ['path: unicode line separator', { type: 'path' }, 'a\u2028b', { rule: 'param.control-character' }],
  ['path: very long', { type: 'path' }, LONG, { rule: 'param.too-long' }],
  ['path: empty', { type: 'path' }, '', { rule: 'param.empty' }],
  ['path: a number is not a path', { type: 'path' }, 42, { rule: 'param.type' }],
  ['path: an array is not a path', { type: 'path' }, ['a', 'b'], { rule: 'param.type' }],
  ['path: an object is not a path', { type: 'path' }, { toString: 'x' }, { rule: 'param.type' }],

  // hosts
  ['host: name', { type: 'host' }, 'db-1.example.com', { ok: 'db-1.example.com' }],
  ['host: fully qualified with trailing dot', { type: 'host' }, 'example.com.', { ok: 'example.com.' }],
  ['host: service label', { type: 'host' }, '_dmarc.example.com', { ok: '_dmarc.example.com' }],
  ['host: IPv4', { type: 'host' }, '192.0.2.10', { ok: '192.0.2.10' }],
  ['host: IPv6', { type: 'host' }, '2001:db8::1', { ok: '2001:db8::1' }],
  ['host: IPv6 with zone', { type: 'host' }, 'fe80::1%eth0', { ok: 'fe80::1%eth0' }],
  ['host: shell syntax', { type: 'host' }, '; rm -rf /', { rule: 'param.host' }],
  ['host: substitution', { type: 'host' }, '$(id)', { rule: 'param.host' }],
  ['host: backticks', { type: 'host' }, '`id`.example.com', { rule: 'param.host' }],
  ['host: ssh option', { type: 'host' }, '-oProxyCommand=x', { rule: 'param.leading-dash' }],
  ['host: user@host is not a host', { type: 'host' }, 'root@example.com', { rule: 'param.host' }],
  ['host: host:port is not a host', { type: 'host' }, 'example.com:22', { rule: 'param.host' }],
  ['host: malformed address', { type: 'host' }, '1.2.3', { rule: 'param.host' }],
  ['host: label too long', { type: 'host' }, `${'a'.repeat(64)}.com`, { rule: 'param.host' }],
  ['host: label ending in a hyphen', { type: 'host' }, 'bad-.example.com', { rule: 'param.host' }],
  ['host: newline', { type: 'host' }, 'example.com\nevil.com', { rule: 'param.control-character' }],
  ['host: very long', { type: 'host' }, LONG, { rule: 'param.too-long' }],
  ['host: a name where an address is needed', { type: 'host', kind: 'address' }, 'example.com', { rule: 'param.host' }],
  ['host: an address where a name is needed', { type: 'host', kind: 'name' }, '192.0.2.1', { rule: 'param.host' }],
  ['host: zone id with odd characters', { type: 'host' }, 'fe80::1%$(id)', { rule: 'param.host' }],

  // ports and integers
  ['port: number', { type: 'port' }, 443, { ok: 443 }],
  ['port: digits as text', { type: 'port' }, '8080', { ok: 8080 }],
  ['port: negative', { type: 'port' }, -1, { rule: 'param.range' }],
  ['port: negative as text', { type: 'port' }, '-22', { rule: 'param.range' }],
  ['port: zero', { type: 'port' }, 0, { rule: 'param.range' }],
  ['port: too high', { type: 'port' }, 65_536, { rule: 'param.range' }],
  ['port: fraction', { type: 'port' }, 1.5, { rule: 'param.type' }],
  ['port: hexadecimal text', { type: 'port' }, '0x1bb', { rule: 'param.type' }],
  ['port: with a space', { type: 'port' }, '44 3', { rule: 'param.type' }],
  ['port: with an option after it', { type: 'port' }, '22 -oProxyCommand=x', { rule: 'param.type' }],
  ['port: boolean', { type: 'port' }, true, { rule: 'param.type' }],
  ['port: infinity', { type: 'port' }, Number.POSITIVE_INFINITY, { rule: 'param.type' }],
  ['integer: within range', { type: 'integer', min: 1, max: 10 }, 10, { ok: 10 }],
  ['integer: below range', { type: 'integer', min: 1, max: 10 }, 0, { rule: 'param.range' }],
  ['integer: above range', { type: 'integer', min: 1, max: 10 }, 11, { rule: 'param.range' }],
  ['integer: a negative number is a number, not an option', { type: 'integer', min: -5, max: 0 }, '-1', { ok: -1 }],
  ['integer: unsafe size', { type: 'integer' }, 2 ** 60, { rule: 'param.type' }],
  ['integer: shell syntax', { type: 'integer' }, '1; reboot', { rule: 'param.type' }],

  // enums
  ['enum: a listed value', { type: 'enum', values: ['A', 'MX'] }, 'MX', { ok: 'MX' }],
  ['enum: case matters', { type: 'enum', values: ['A', 'MX'] }, 'mx', { rule: 'param.enum' }],
  ['enum: with shell syntax', { type: 'enum', values: ['A', 'MX'] }, 'A; id', { rule: 'param.enum' }],

  // durations
  ['duration: minutes', { type: 'duration' }, '30m', { ok: '30m' }],
  ['duration: weeks', { type: 'duration', max: '52w' }, '2w', { ok: '2w' }],
  ['duration: beyond the maximum', { type: 'duration', max: '52w' }, '53w', { rule: 'param.range' }],
  ['duration: below the minimum', { type: 'duration', min: '1m' }, '30s', { rule: 'param.range' }],
  ['duration: with a space', { type: 'duration' }, '30 m', { rule: 'param.duration' }],
  ['duration: negative', { type: 'duration' }, '-30m', { rule: 'param.leading-dash' }],
  ['duration: zero', { type: 'duration' }, '0s', { rule: 'param.duration' }],
  ['duration: no unit', { type: 'duration' }, '30', { rule: 'param.duration' }],
  ['duration: shell syntax', { type: 'duration' }, '1h; id', { rule: 'param.duration' }],

  // patterns
  ['pattern: regular expression', { type: 'pattern' }, 'ERROR|FATAL', { ok: 'ERROR|FATAL' }],
  ['pattern: shell syntax is just text', { type: 'pattern' }, '$(id)`id`;|&', { ok: '$(id)`id`;|&' }],
  ['pattern: a leading dash when the template allows it', { type: 'pattern', leadingDash: true }, '-v', { ok: '-v' }],
  ['pattern: a leading dash when it does not', { type: 'pattern' }, '--help', { rule: 'param.leading-dash' }],
  ['pattern: newline (two patterns to grep)', { type: 'pattern', leadingDash: true }, 'a\nb', { rule: 'param.control-character' }],
  ['pattern: NUL', { type: 'pattern' }, 'a\0', { rule: 'param.control-character' }],
  ['pattern: too long', { type: 'pattern' }, 'x'.repeat(257), { rule: 'param.too-long' }],
  ['pattern: longer when allowed', { type: 'pattern', maxLength: 1000 }, 'x'.repeat(900), { ok: 'x'.repeat(900) }],

  // strings
  ['string: matches', { type: 'string', match: '[a-z0-9-]+' }, 'web-1', { ok: 'web-1' }],
  ['string: match is anchored at both ends', { type: 'string', match: '[a-z0-9-]+' }, 'web; id', { rule: 'param.match' }],
  ['string: without a match, text is fine', { type: 'string' }, '.dependencies | keys', { ok: '.dependencies | keys' }],
  ['string: an option', { type: 'string' }, '--output=/etc/passwd', { rule: 'param.leading-dash' }],
  ['string: too long by default', { type: 'string' }, 'x'.repeat(129), { rule: 'param.too-long' }],

  // URLs
  ['url: https', { type: 'url' }, 'https://example.com/health?x=1', { ok: 'https://example.com/health?x=1' }],
  ['url: user information', { type: 'url' }, 'http://user:secret@example.com/', { rule: 'param.url' }],
  ['url: a file URL', { type: 'url' }, 'file:///etc/passwd', { rule: 'param.url' }],
  ['url: another scheme', { type: 'url' }, 'gopher://example.com/', { rule: 'param.url' }],
  ['url: backslash confusion', { type: 'url' }, 'http://1.1.1.1\\@169.254.169.254/', { rule: 'param.url' }],
  ['url: whitespace', { type: 'url' }, 'http://example.com/ -o /etc/passwd', { rule: 'param.url' }],
  ['url: relative', { type: 'url' }, '/health', { rule: 'param.url' }],
  ['url: an option', { type: 'url' }, '-Kconfig', { rule: 'param.leading-dash' }],

  // booleans
  ['boolean: true', { type: 'boolean' }, true, { ok: true }],
  ['boolean: text is not a boolean', { type: 'boolean' }, 'true', { rule: 'param.type' }],
];

describe('parameter values', () => {
  it.each(ROWS)('%s', (_label, spec, value, expected) => {
    const result = checkParamValue(param(spec), value);
    if ('ok' in expected) {
      expect(result).toEqual({ ok: true, value: expected.ok });
    } else {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.rule).toBe(expected.rule);
        // A message never echoes a huge value back.
        expect(result.message.length).toBeLessThan(300);
      }
    }
  });
});

describe('params objects', () => {
  const specs = [
    param({ name: 'host', type: 'host', required: true }),
    param({ name: 'port', type: 'port', default: 22 }),
    param({ name: 'verbose', type: 'boolean' }),
  ];

  function refusal(input: unknown): ValidationError {
    try {
      validateParams('ssh-check', specs, input);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return error as ValidationError;
    }
    throw new Error('expected a ValidationError');
  }

  it('fills defaults and leaves optional values unset', () => {
    expect(validateParams('ssh-check', specs, { host: 'example.com' })).toEqual({ host: 'example.com', port: 22 });
  });

  it('treats null like an unset value', () => {
    expect(validateParams('ssh-check', specs, { host: 'example.com', port: null })).toEqual({ host: 'example.com', port: 22 });
  });

  it('names an unknown parameter and lists the known ones', () => {
    const error = refusal({ host: 'example.com', command: 'id' });
    expect(error.message).toContain('params.command');
    expect(error.message).toContain('known: host, port, verbose');
    expect(error.details.rules).toEqual([{ param: 'command', rule: 'param.unknown' }]);
  });

  it('names a missing required parameter', () => {
    const error = refusal({});
    expect(error.message).toContain('params.host');
    expect(error.message).toContain('is required');
    expect(error.issues).toEqual([{ path: 'params.host', message: expect.stringContaining('is required') }]);
  });

  it('reports every problem at once, each naming its parameter and rule', () => {
    const error = refusal({ host: '-oProxyCommand=x', port: -1, verbose: 'yes', extra: 1 });
    const rules = error.details.rules as { param: string; rule: string }[];
    expect(rules).toEqual(
      expect.arrayContaining([
        { param: 'extra', rule: 'param.unknown' },
        { param: 'host', rule: 'param.leading-dash' },
        { param: 'port', rule: 'param.range' },
        { param: 'verbose', rule: 'param.type' },
      ]),
    );
    expect(error.message).toMatch(/params\.port: -1 is out of range: must be a port number from 1 to 65535/);
  });

  it.each([['a string', 'host=example.com'], ['an array', ['example.com']], ['a number', 7]])('refuses params given as %s', (_what, input) => {
    expect(refusal(input).message).toContain('params must be an object');
  });

  it('does not treat inherited properties as parameters', () => {
    const input = Object.create({ host: 'example.com' }) as Record<string, unknown>;
    expect(refusal(input).message).toContain('params.host');
  });
});

describe('rendering', () => {
  const probe = command({
    argv: ['tool', '--file', '{path}', { when: 'verbose', argv: ['-v'] }, { when: 'pattern', argv: ['-e', '{pattern}'] }, '--', '{host}'],
    params: [
      { name: 'path', type: 'path', required: true, description: 'a file to read' },
      { name: 'pattern', type: 'pattern', leadingDash: true, description: 'a pattern to search for' },
      { name: 'host', type: 'host', required: true, description: 'a host to talk to' },
      { name: 'verbose', type: 'boolean', default: false, description: 'more output' },
    ],
    example: { path: 'a', host: 'example.com' },
  });

  const HOSTILE_VALUES = ['; rm -rf /', '$(id)', '`id`', 'a b c', "it's \"quoted\"", '../../etc/shadow', '*', '~root/.ssh', '> /etc/passwd', '| sh', '&& reboot', 'x'.repeat(4096)];

  it.each(HOSTILE_VALUES)('a path %j stays exactly one element', (value) => {
    const rendered = renderCommand(probe, { path: value, host: 'example.com' });
    expect(rendered.argv).toEqual(['tool', '--file', value, '--', 'example.com']);
    expect(rendered.sources[2]).toEqual({ kind: 'param', param: 'path' });
  });

  it.each(['-v', '--output=/etc/passwd', '-oProxyCommand=x', '$(id)', '; rm -rf /'])('a pattern %j follows -e as one element', (value) => {
    const rendered = renderCommand(probe, { path: 'a', host: 'example.com', pattern: value });
    expect(rendered.argv).toEqual(['tool', '--file', 'a', '-e', value, '--', 'example.com']);
  });

  it('includes a when group only when its parameter is set or true', () => {
    expect(renderCommand(probe, { path: 'a', host: 'h.example', verbose: true }).argv).toEqual(['tool', '--file', 'a', '-v', '--', 'h.example']);
    expect(renderCommand(probe, { path: 'a', host: 'h.example', verbose: false }).argv).toEqual(['tool', '--file', 'a', '--', 'h.example']);
  });

  it.each([
    ['--output=/etc/passwd', 'param.leading-dash'],
    ['-oProxyCommand=x', 'param.leading-dash'],
    ['a\nb', 'param.control-character'],
    ['a\0b', 'param.control-character'],
    ['x'.repeat(5000), 'param.too-long'],
  ])('refuses the path %j before anything is rendered', (value, rule) => {
    expect(() => renderCommand(probe, { path: value, host: 'example.com' })).toThrow(ValidationError);
    try {
      renderCommand(probe, { path: value, host: 'example.com' });
    } catch (error) {
      expect((error as ValidationError).details.rules).toEqual([{ param: 'path', rule }]);
    }
  });

  it('renders durations and hosts in the form the template asks for', () => {
    const timed = command({
      argv: ['tool', { param: 'since', as: 'ago' }, { param: 'since', as: 'seconds' }, { param: 'since', as: 'minutes' }, '{since}', { join: [{ param: 'host', as: 'bracketed' }, ':', '{port}'] }],
      params: [
        { name: 'since', type: 'duration', required: true, description: 'how long ago' },
        { name: 'host', type: 'host', required: true, description: 'a host to reach' },
        { name: 'port', type: 'port', required: true, description: 'a port to connect to' },
      ],
      example: { since: '90s', host: 'example.com', port: 443 },
    });
    expect(renderCommand(timed, { since: '90s', host: '2001:db8::1', port: 443 }).argv).toEqual(['tool', '90 seconds ago', '90', '2', '90s', '[2001:db8::1]:443']);
    expect(renderCommand(timed, { since: '1d', host: 'example.com', port: '8443' }).argv).toEqual(['tool', '1 day ago', '86400', '1440', '1d', 'example.com:8443']);
    expect(renderCommand(timed, { since: '1d', host: 'example.com', port: 1 }).sources[5]).toEqual({ kind: 'join', params: ['host', 'port'] });
  });

  it('selects a when group by an enum value', () => {
    const sorter = command({
      argv: ['sort', { when: 'order', equals: 'numeric', argv: ['-n'] }, { when: 'order', equals: 'human', argv: ['-h'] }],
      params: [{ name: 'order', type: 'enum', values: ['text', 'numeric', 'human'], default: 'text', description: 'how to compare' }],
    });
    expect(renderCommand(sorter, {}).argv).toEqual(['sort']);
    expect(renderCommand(sorter, { order: 'human' }).argv).toEqual(['sort', '-h']);
    expect(() => renderCommand(sorter, { order: '-r' })).toThrow(/order/);
  });
});
