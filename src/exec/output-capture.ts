import type { OutputStream } from './script-process.js';

export interface CapturedOutput {
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export interface OutputCapture {
  push(stream: OutputStream, chunk: Buffer): void;
  result(): CapturedOutput;
}

/**
 * Keeps the first `maxBytes` of stdout+stderr together. Past the cap the rest is
 * read and discarded, not left in the pipe: a blocked writer would only stall until
 * the timeout, and killing it would cut off work (a build, a migration) half-way
 * for nothing more than chattiness. The wall-clock limit still bounds the run.
 */
export function createOutputCapture(maxBytes: number): OutputCapture {
  const kept: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  const dropped: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  let keptBytes = 0;

  const push = (stream: OutputStream, chunk: Buffer): void => {
    const room = maxBytes - keptBytes;
    if (chunk.length <= room) {
      kept[stream].push(chunk);
      keptBytes += chunk.length;
      return;
    }
    const cut = utf8Boundary(chunk, Math.max(room, 0));
    if (cut > 0) kept[stream].push(chunk.subarray(0, cut));
    // Nothing else fits once a chunk has been cut, not even a later short one.
    keptBytes = maxBytes;
    dropped[stream] += chunk.length - cut;
  };
  const text = (stream: OutputStream): string => {
    const body = Buffer.concat(kept[stream]).toString('utf8');
    if (dropped[stream] === 0) return body;
    return `${body}\n[ironcode: output truncated after ${maxBytes} bytes of stdout+stderr; ${dropped[stream]} more bytes of ${stream} discarded]\n`;
  };
  return {
    push,
    result: () => ({ stdout: text('stdout'), stderr: text('stderr'), truncated: dropped.stdout + dropped.stderr > 0 }),
  };
}

/** The largest cut at or before `at` that does not split a UTF-8 sequence. */
export function utf8Boundary(buffer: Buffer, at: number): number {
  let cut = Math.min(at, buffer.length);
  while (cut > 0 && cut < buffer.length && ((buffer[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return cut;
}
