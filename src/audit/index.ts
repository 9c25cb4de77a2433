export { createAuditLog, DEFAULT_MAX_BATCH } from './audit-log.js';
export { verifyAuditLog } from './verify.js';
export { queryAuditEvents, auditQuerySchema, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT } from './query.js';
export { redact, REDACTED, isSecretKey, MAX_REDACTED_BYTES } from './redact.js';
export { AUDIT_KEY_ENV, AUDIT_KEY_FILE, loadAuditKey } from './audit-key.js';
export { AUDIT_DECISIONS } from './types.js';
export type { AuditDecision, AuditEventInput, AuditLog, AuditLogOptions, AuditQuery, AuditRecord, VerifyResult } from './types.js';
