import fs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from './logger.js';
import type { LogDestination, LogFormat, LogLevel } from './logger.js';

function capture(format: LogFormat, level: LogLevel = 'info') {
  const lines: string[] = [];
  const destination: LogDestination = { write: (line: string) => lines.push(line) };
  return { log: createLogger({ level, format, destination }), lines };
}

describe('createLogger json format', () => {
  it('writes one JSON object per line with a level label, time and fields', () => {
    const { log, lines } = capture('json');
    log.info({ tool: 'desktop.read_file', ms: 12 }, 'tool call done');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', msg: 'tool call done', tool: 'desktop.read_file', ms: 12 });
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('drops lines below the level and writes nothing when silent', () => {
    const quiet = capture('json', 'warn');
    quiet.log.info('hidden');
    quiet.log.warn('shown');
    expect(quiet.lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['shown']);
    const silent = capture('json', 'silent');
    silent.log.fatal('nothing');
    expect(silent.lines).toEqual([]);
  });

  it('redacts secrets at the top level and one level down', () => {
    const { log, lines } = capture('json');
    log.info(
      {
        password: 'p1',
        token: 't1',
        authorization: 'Bearer a1',
        user: { name: 'ada', password: 'p2', apiKey: 'k2' },
        webhook: { secret: 's2', token: 't2' },
        req: { headers: { authorization: 'Bearer a2', accept: 'json' } },
      },
      'login',
    );
    const text = lines.join('');
    for (const secret of ['p1', 't1', 'a1', 'p2', 'k2', 's2', 't2', 'a2']) expect(text).not.toContain(secret);
    const entry = JSON.parse(lines[0]!) as { user: Record<string, unknown>; req: { headers: Record<string, unknown> } };
    expect(entry.user).toEqual({ name: 'ada', password: '[redacted]', apiKey: '[redacted]' });
    expect(entry.req.headers).toEqual({ authorization: '[redacted]', accept: 'json' });
  });

  it('carries child bindings', () => {
    const { log, lines } = capture('json');
    log.child({ requestId: 'r-1' }).info('hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({ requestId: 'r-1', msg: 'hello' });
  });
});

describe('createLogger pretty format', () => {
  it('writes LEVEL msg key=value lines without pid or hostname', () => {
    const { log, lines } = capture('pretty');
    log.warn({ tool: 'git.status', ms: 7, note: 'two words', ok: true, nested: { a: 1 } }, 'slow call');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow call tool=git.status ms=7 note="two words" ok=true nested=\{"a":1\}\n$/);
    expect(lines[0]).not.toContain('pid=');
    expect(lines[0]).not.toContain('hostname=');
  });

  it('redacts in pretty lines too', () => {
    const { log, lines } = capture('pretty');
    log.info({ user: { token: 'hunter2' } }, 'x');
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).toContain('[redacted]');
  });

  it('keeps one entry on one line even when the message has newlines', () => {
    const { log, lines } = capture('pretty');
    log.info('first\nERROR forged line');
    expect(lines[0]!.trimEnd().split('\n')).toHaveLength(1);
    expect(lines[0]).toContain('first\\nERROR forged line');
  });

  it('shows an error message and its stack', () => {
    const { log, lines } = capture('pretty');
    log.error({ err: new Error('disk full') }, 'write failed');
    expect(lines[0]).toContain('ERROR write failed err="disk full"');
    expect(lines[0]).toContain('\n    Error: disk full');
  });
});

describe('createLogger default destination', () => {
  it('writes synchronously to stderr, never stdout', () => {
    // Synchronous means the bytes reach fd 2 inside the log call, so a following process.exit() keeps them.
    const writes: { fd: number; text: string }[] = [];
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: string | Uint8Array) => {
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
      writes.push({ fd, text });
      return Buffer.byteLength(text);
    }) as typeof fs.writeSync);
    try {
      createLogger({ level: 'info', format: 'pretty' }).info({ apiKey: 'k' }, 'to stderr');
    } finally {
      spy.mockRestore();
    }
    expect(writes.map((write) => write.fd)).toEqual([2]);
    expect(writes[0]!.text).toMatch(/INFO {2}to stderr apiKey=\[redacted\]\n$/);
  });
});
