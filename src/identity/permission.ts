/**
 * Permissions are `resource:action`. A pattern may use `*` anywhere in either part,
 * matching any run of characters within that part: `tool.*:read`, `users:*`, `*:*`.
 * The colon is never matched by `*`, so `tool.*` cannot swallow an action.
 */

const PART = /^[a-z0-9*][a-z0-9.*_-]*$/;

export function isPermission(value: string): boolean {
  const parts = value.split(':');
  return parts.length === 2 && parts.every((part) => PART.test(part) && !part.includes('*'));
}

export function isPermissionPattern(value: string): boolean {
  const parts = value.split(':');
  return parts.length === 2 && parts.every((part) => PART.test(part));
}

const compiled = new Map<string, RegExp>();

function patternRegExp(pattern: string): RegExp {
  let regexp = compiled.get(pattern);
  if (regexp === undefined) {
    const source = pattern
      .split(':')
      .map((part) => part.split('*').map((text) => text.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('[^:]*'))
      .join(':');
    regexp = new RegExp(`^${source}$`);
    compiled.set(pattern, regexp);
  }
  return regexp;
}

export function permissionMatches(pattern: string, permission: string): boolean {
  if (pattern === permission) return true;
  if (!pattern.includes('*')) return false;
  return patternRegExp(pattern).test(permission);
}
