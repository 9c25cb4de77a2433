import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Anything with a synchronous `write(line)`: a pino destination, a stream, a test sink. */
export interface LogDestination {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Defaults to stderr: stdout carries command output that scripts parse. */
  destination?: LogDestination;
}

// `*.x` only matches one level down, so the top-level names are listed as well.
const REDACT_PATHS = [
  'password',
  'token',
  'apiKey',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.secret',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
];

const REDACTED = '[redacted]';

export function createLogger(options: LoggerOptions): Logger {
  // Synchronous writes so a CLI that calls process.exit() right after logging keeps its lines.
  const target = options.destination ?? pino.destination({ dest: 2, sync: true });
  const stream: DestinationStream = options.format === 'pretty' ? createPrettyStream(target) : target;
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

// Fields every line has; the pretty format shows them positionally or not at all.
const FRAMING_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err']);

/** Rewrites pino's JSON lines as `TIME LEVEL msg key=value …` for people at a terminal. */
function createPrettyStream(target: LogDestination): DestinationStream {
  return {
    write(line: string): void {
      target.write(formatPrettyLine(line));
    },
  };
}

function formatPrettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const level = String(entry.level ?? '').toUpperCase().padEnd(5);
  const parts = [time, level, escapeControl(String(entry.msg ?? ''))].filter((part) => part !== '');
  for (const [key, value] of Object.entries(entry)) {
    if (!FRAMING_KEYS.has(key)) parts.push(`${key}=${formatValue(value)}`);
  }
  let out = parts.join(' ');
  const err = entry.err as { message?: unknown; stack?: unknown } | undefined;
  if (err !== undefined) {
    out += ` err=${formatValue(err.message)}`;
    if (typeof err.stack === 'string') out += `\n    ${err.stack.split('\n').join('\n    ')}`;
  }
  return `${out}\n`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=\\\p{Cc}]+$/u.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

// Messages can carry text from agents; an embedded newline must not forge a second log line.
function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
