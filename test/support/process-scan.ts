import { readdir, readFile } from 'node:fs/promises';

/**
 * Processes whose command line contains `marker`, found by scanning /proc: how the
 * tests prove that a timeout, a kill or close() left nothing running.
 */
export async function processesWith(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) found.push(`${entry}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}
