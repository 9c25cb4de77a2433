import { loadConfig } from '../core/index.js';
import type { Config, ConfigInput, DeepPartial } from '../core/index.js';

/** Flags every command that works on the store shares. */
export interface StoreFlags {
  config?: string;
  dataDir?: string;
}

export function loadStoreConfig(flags: StoreFlags, extra: DeepPartial<ConfigInput> = {}): Config {
  const overrides: DeepPartial<ConfigInput> = { ...extra };
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  return loadConfig({ ...(flags.config === undefined ? {} : { configPath: flags.config }), overrides });
}
