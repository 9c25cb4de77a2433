// tsc compiles the TypeScript; the YAML data files beside it are copied here so
// that dist/ is complete. Run by the build.
import { cpSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function copyData(dir) {
  for (const entry of readdirSync(dir)) {
    const from = path.join(dir, entry);
    if (statSync(from).isDirectory()) copyData(from);
    else if (/\.ya?ml$/.test(entry)) cpSync(from, path.join('dist', path.relative('src', from)));
  }
}
copyData('src');
