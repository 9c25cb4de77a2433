import type { ToolServer } from '../tool.js';
import { editTools } from './edit-block.js';
import { processTools } from './process-tools.js';
import { readTools } from './read-tools.js';
import { searchTools } from './search-tools.js';
import { writeTools } from './write-tools.js';

/** Desktop tools (T3): commands, process sessions, files. */
export const desktopServer: ToolServer = {
  name: 'desktop',
  description: 'Run commands and process sessions, and read, write, edit and search files inside the workspace roots.',
  tools: [...processTools, ...readTools, ...writeTools, ...editTools, ...searchTools],
};
