import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_KEY_ENV, AUDIT_KEY_FILE, loadAuditKey } from './index.js';

describe('loadAuditKey', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ironcode-audit-key-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates audit.key with mode 0600 once, then reads the same key', async () => {
    const first = loadAuditKey(dataDir, {});
    expect(first).toMatchObject({ created: true, origin: join(dataDir, AUDIT_KEY_FILE) });
    expect(first.key.length).toBe(32);
    expect((await stat(join(dataDir, AUDIT_KEY_FILE))).mode & 0o777).toBe(0o600);
    const second = loadAuditKey(dataDir, {});
    expect(second.created).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('prefers IRONCODE_AUDIT_KEY', () => {
    const hex = 'ab'.repeat(32);
    expect(loadAuditKey(dataDir, { [AUDIT_KEY_ENV]: hex })).toEqual({ key: Buffer.from(hex, 'hex'), origin: `env:${AUDIT_KEY_ENV}`, created: false });
  });
});
