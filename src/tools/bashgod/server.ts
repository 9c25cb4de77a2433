import type { ToolServer } from '../tool.js';
import { bashgodTools } from './tools.js';

/** BashGod (T4): a catalogue of vetted, typed shell commands and chains of them, run through the safety policy. */
export const bashgodServer: ToolServer = {
  name: 'bashgod',
  description:
    'Find, check and run vetted shell commands from a typed catalogue (system, performance, network, security, development, devops, database, coordination), alone or as named chains.',
  tools: bashgodTools,
};
