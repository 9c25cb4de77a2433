import { loadConfig, type Config, type DeepPartial, type ConfigInput } from '../core/index.js';
import { createPolicy, loadProfile, type Policy, type Profile } from '../policy/index.js';

/** Flags every command that acts on a workspace shares. */
export interface WorkspaceFlags {
  config?: string;
  profile?: string;
  root?: string[];
}

export interface Runtime {
  config: Config;
  profile: Profile;
  policy: Policy;
}

/** Config (file < env < flags), then the profile with the config's exec overrides, then the policy. */
export async function loadRuntime(flags: WorkspaceFlags): Promise<Runtime> {
  const overrides: DeepPartial<ConfigInput> = {};
  if (flags.profile !== undefined) overrides.profile = flags.profile;
  if (flags.root !== undefined && flags.root.length > 0) overrides.roots = flags.root;
  const config = loadConfig({ ...(flags.config !== undefined ? { configPath: flags.config } : {}), overrides });
  return { config, ...(await policyFor(config)) };
}

/** The configured profile (with the config's exec overrides) and the policy over the configured roots. */
export async function policyFor(config: Config): Promise<{ profile: Profile; policy: Policy }> {
  const profile = withExecOverrides(loadProfile(config.profile), config);
  // The data directory holds the audit log and keys; with the default config it sits inside the default root.
  const policy = await createPolicy({ profile, roots: config.roots, protectedDirs: [config.dataDir] });
  return { profile, policy };
}

function withExecOverrides(profile: Profile, config: Config): Profile {
  const { sandbox, network, limits } = config.exec;
  return {
    ...profile,
    exec: {
      sandbox: sandbox ?? profile.exec.sandbox,
      network: network ?? profile.exec.network,
      limits: { ...profile.exec.limits, ...limits },
    },
  };
}
