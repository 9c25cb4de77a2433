import type { Findings } from './command-findings.js';
import type { LayerContext } from './command-rules.js';
import { find, tar, sed, chmodLike, dd, rm, jq } from './command-rules-files.js';
import { git } from './command-rules-git.js';
import { docker, kubectl, helm } from './command-rules-containers.js';
import { systemctl, journalctl, packages, killers, ip, date, hostname, verbs } from './command-rules-system.js';
import { multiplexers } from './command-rules-multiplexers.js';
import { databases } from './command-rules-databases.js';
import { verbPrograms } from './command-catalogue.js';
import { curl, wget, listeners, pip, remoteExecOptions } from './command-rules-network.js';
import { make, npm, commandStringOptions } from './command-rules-runners.js';

/**
 * Tools whose options can run other programs, write where their operands do not
 * say, or reach the network — each judged by what its arguments mean.
 */

export type ToolRule = (ctx: LayerContext & { args: readonly string[] }, out: Findings) => void;

export const TOOL_RULES: Record<string, ToolRule> = {
  date,
  hostname,
  find,
  jq,
  tar,
  sed,
  git,
  docker,
  kubectl,
  helm,
  systemctl,
  journalctl,
  curl,
  wget,
  chmod: chmodLike,
  chown: chmodLike,
  chgrp: chmodLike,
  dd,
  rm,
  make,
  npm,
  npx: npm,
  pip,
  ip,
  '@packages': packages,
  '@listeners': listeners,
  '@killers': killers,
  '@remote': remoteExecOptions,
  '@pagers': commandStringOptions,
  '@multiplexers': multiplexers,
  '@databases': databases,
  script: commandStringOptions,
  ...Object.fromEntries(verbPrograms().map((name) => [name, verbs])),
};

