import { ValidationError } from './errors.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/** `90s`, `15m`, `12h`, `30d`, `2w` → seconds. Anything else is a validation error naming the text. */
export function parseDuration(text: string, field = 'duration'): number {
  const match = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (match === null) throw new ValidationError(`${field} "${text}" is not a duration such as 30d, 12h, 15m or 90s`, [{ path: field, message: 'expected <number><s|m|h|d|w>' }]);
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds <= 0) throw new ValidationError(`${field} must be longer than zero`, [{ path: field, message: 'must be positive' }]);
  return seconds;
}
