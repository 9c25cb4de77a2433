import { loadOrCreateSecretKey, type SecretKey } from '../store/index.js';

export const AUDIT_KEY_FILE = 'audit.key';
export const AUDIT_KEY_ENV = 'IRONCODE_AUDIT_KEY';

/**
 * The audit HMAC key: IRONCODE_AUDIT_KEY (base64 or hex, at least 32 bytes) when set,
 * otherwise `audit.key` (mode 0600) in the data directory, generated on first use.
 * Every process writing or verifying one log must use the same key.
 */
export function loadAuditKey(dataDir: string, env?: NodeJS.ProcessEnv): SecretKey {
  return loadOrCreateSecretKey({ dataDir, fileName: AUDIT_KEY_FILE, envName: AUDIT_KEY_ENV, ...(env === undefined ? {} : { env }) });
}
