export {
  ConflictError,
  ERROR_KINDS,
  ForbiddenError,
  IronError,
  NotFoundError,
  PolicyDeniedError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  isIronError,
  toIronError,
} from './errors.js';
export type { ErrorCode, ErrorKind, IronErrorOptions } from './errors.js';

export { BUILTIN_PROFILES, addressMatcher, isAddressOrCidr, configFieldsSchema, configSchema, isBuiltinProfile } from './config.js';
export type { BuiltinProfile, Config, ConfigInput, DeepPartial, DeepReadonly } from './config.js';
export { CONFIG_ENV_NAMES, CONFIG_FILE_NAME, RESERVED_ENV, loadConfig } from './config-load.js';
export type { LoadConfigOptions } from './config-load.js';

export { LOG_FORMATS, LOG_LEVELS, createLogger } from './logger.js';
export type { LogDestination, LogFormat, LogLevel, Logger, LoggerOptions } from './logger.js';
export { execLimitsSchema, sandboxModes, type ExecLimits, type SandboxMode } from './exec-limits.js';
export { deepFreeze } from './deep-freeze.js';
export { systemClock, type Clock } from './clock.js';
export { newId, randomToken } from './ids.js';
export { loadDataFile } from './data-file.js';
export { parseDuration } from './duration.js';
