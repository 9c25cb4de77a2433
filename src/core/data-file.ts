import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { z } from 'zod';

/**
 * Loads a YAML data file shipped with the code and checks it against its schema,
 * failing loudly at start-up: a broken rule file must never mean "no rules".
 */
export function loadDataFile<S extends z.ZodType>(url: URL, schema: S): z.infer<S> {
  const file = fileURLToPath(url);
  const parsed: unknown = parse(readFileSync(file, 'utf8'), { uniqueKeys: true });
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new Error(`${file} is not a valid data file: ${issues}`);
  }
  return result.data;
}
