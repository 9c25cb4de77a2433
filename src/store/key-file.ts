import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../core/index.js';

export interface SecretKeySource {
  /** The data directory, where a generated key is kept. */
  dataDir: string;
  /** File name inside the data directory. */
  fileName: string;
  /** A key given by the environment wins; base64 or hex of at least 32 bytes. */
  envName: string;
  env?: NodeJS.ProcessEnv;
}

export interface SecretKey {
  key: Buffer;
  /** `env:NAME` or the file path: where it came from, never the key. */
  origin: string;
  /** True when this call generated the key file. */
  created: boolean;
}

function decodeKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]+$/i.test(trimmed) && trimmed.length % 2 === 0 ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length < 32) throw new ValidationError(`${where} must hold at least 32 bytes of key (base64 or hex); it has ${key.length}`, [{ path: where, message: 'key too short' }]);
  return key;
}

/**
 * Loads a secret key from the environment or from a 0600 file in the data directory,
 * generating the file on first use. A key file readable by others is refused.
 */
export function loadOrCreateSecretKey(source: SecretKeySource): SecretKey {
  const env = source.env ?? process.env;
  const fromEnv = env[source.envName];
  if (fromEnv !== undefined && fromEnv !== '') return { key: decodeKey(fromEnv, source.envName), origin: `env:${source.envName}`, created: false };

  const file = path.join(source.dataDir, source.fileName);
  mkdirSync(source.dataDir, { recursive: true, mode: 0o700 });
  // Written whole under a private name, then linked into place: link fails if the file
  // exists, so two processes starting together keep one key and never read half of it.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return { key: readKeyFile(file), origin: file, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(draft);
  }
  return { key: readKeyFile(file), origin: file, created: false };
}

function readKeyFile(file: string): Buffer {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ValidationError(`key file ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`, [{ path: file, message: 'mode must be 0600' }]);
  }
  return decodeKey(readFileSync(file, 'utf8'), file);
}
