import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../test/support/test-database.js';
import { createAuditLog, verifyAuditLog, type AuditLog } from '../audit/index.js';
import { builtinRbac, type Principal } from '../identity/index.js';
import { deny } from '../policy/index.js';
import { ApprovalRequiredError, createApprovals, type Approvals, type ApprovalAction } from './approvals.js';

const AGENT: Principal = { kind: 'api-key', id: 'key_agent', name: 'agent', roles: ['admin'], permissions: [] };
const ADMIN: Principal = { kind: 'user', id: 'usr_admin', name: 'alice', roles: ['admin'], permissions: [] };
const VIEWER: Principal = { kind: 'user', id: 'usr_viewer', name: 'vera', roles: ['viewer'], permissions: [] };
const ACTION: ApprovalAction = { kind: 'command', summary: 'rm -r build', exact: { argv: ['/usr/bin/rm', '-r', 'build'], cwd: '/w' } };
const DECISION = deny('command.recursive-delete', 'high', 'rm -r deletes a tree');

describe.each(['sqlite', 'postgres'] as const)('approvals on %s', (dialect) => {
  let db: TestDatabase;
  let audit: AuditLog;
  let approvals: Approvals;
  let now = 1_700_000_000_000;
  const key = randomBytes(32);

  beforeAll(async () => {
    db = await testDatabase(dialect);
    audit = createAuditLog(db.store, { key });
    approvals = createApprovals({ db: db.store.db, audit, rbac: builtinRbac(), clock: { now: () => now } });
  });

  afterAll(async () => {
    await audit.close();
    await db.dispose();
  });

  const ask = () => approvals.require(AGENT, 'desktop.run_command', ACTION, DECISION).then(() => null, (error: unknown) => error);

  it('refuses with an approval id, and asking again names the same request', async () => {
    const first = await ask();
    expect(first).toBeInstanceOf(ApprovalRequiredError);
    const again = await ask();
    expect((again as ApprovalRequiredError).approvalId).toBe((first as ApprovalRequiredError).approvalId);
    expect((first as ApprovalRequiredError).message).toMatch(/ironcode approvals grant apr_/);
    expect((first as ApprovalRequiredError).details.rule).toBe('command.recursive-delete');
  });

  it('nobody approves their own request, and a viewer approves nothing', async () => {
    const id = ((await ask()) as ApprovalRequiredError).approvalId;
    await expect(approvals.grant(AGENT, id)).rejects.toThrow(/cannot decide its own approval request/);
    await expect(approvals.grant(VIEWER, id)).rejects.toThrow(/approvals:decide/);
  });

  it('a grant lets the exact action through once, for that principal only', async () => {
    const id = ((await ask()) as ApprovalRequiredError).approvalId;
    const granted = await approvals.grant(ADMIN, id);
    expect(granted).toMatchObject({ status: 'granted', decidedBy: 'usr_admin' });
    // Another action, or another principal, is not covered.
    await expect(approvals.require(AGENT, 'desktop.run_command', { ...ACTION, exact: { ...ACTION.exact, cwd: '/other' } }, DECISION)).rejects.toBeInstanceOf(ApprovalRequiredError);
    await expect(approvals.require(ADMIN, 'desktop.run_command', ACTION, DECISION)).rejects.toBeInstanceOf(ApprovalRequiredError);
    await expect(approvals.require(AGENT, 'desktop.run_command', ACTION, DECISION)).resolves.toBeUndefined();
    expect((await approvals.get(ADMIN, id)).status).toBe('used');
    await expect(approvals.require(AGENT, 'desktop.run_command', ACTION, DECISION)).rejects.toBeInstanceOf(ApprovalRequiredError);
  });

  it('a request nobody answers lapses: no answer means no', async () => {
    const id = ((await ask()) as ApprovalRequiredError).approvalId;
    now += 2 * 60 * 60_000;
    expect((await approvals.get(ADMIN, id)).status).toBe('expired');
    await expect(approvals.grant(ADMIN, id)).rejects.toThrow(/is expired, not pending/);
    const fresh = ((await ask()) as ApprovalRequiredError).approvalId;
    expect(fresh).not.toBe(id);
  });

  it('a grant expires unused', async () => {
    const id = ((await ask()) as ApprovalRequiredError).approvalId;
    await approvals.grant(ADMIN, id, { forMs: 1000 });
    now += 2000;
    await expect(approvals.require(AGENT, 'desktop.run_command', ACTION, DECISION)).rejects.toBeInstanceOf(ApprovalRequiredError);
  });

  it('a denial is final, and the person at the client may answer only their own request', async () => {
    const id = ((await ask()) as ApprovalRequiredError).approvalId;
    await expect(approvals.grantByClient(ADMIN, id, 'claude')).rejects.toThrow(/no approval/);
    await approvals.deny(ADMIN, id);
    await expect(approvals.grant(ADMIN, id)).rejects.toThrow(/is denied/);
    const next = ((await ask()) as ApprovalRequiredError).approvalId;
    expect((await approvals.grantByClient(AGENT, next, 'claude')).decidedBy).toBe('elicitation:claude');
  });

  it('lists by status and records everything in a log that verifies', async () => {
    const pending = await approvals.list(ADMIN, { status: 'pending' });
    expect(pending.every((a) => a.status === 'pending')).toBe(true);
    const events = await audit.query({ action: 'approval.*', limit: 100 });
    expect(new Set(events.map((e) => e.action))).toEqual(new Set(['approval.request', 'approval.grant', 'approval.use', 'approval.deny']));
    await audit.flush();
    expect((await verifyAuditLog(db.store, key)).ok).toBe(true);
  });
});
