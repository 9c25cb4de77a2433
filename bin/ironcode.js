#!/usr/bin/env node
// The CLI is compiled TypeScript; `npm ci` runs `prepare`, which builds dist/.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
