/**
 * The last `capacity` bytes of a stream, addressed by absolute offsets so a reader
 * can ask for "everything since byte N" and learn how much it missed.
 */
export interface OutputRing {
  push(chunk: Buffer): void;
  /** Offset of the oldest byte still held (= bytes dropped so far). */
  readonly start: number;
  /** Offset just past the newest byte (= bytes ever written). */
  readonly end: number;
  /** Bytes from `offset` on; `missed` counts those already dropped. */
  since(offset: number): { data: Buffer; missed: number };
}

export function createOutputRing(capacity: number): OutputRing {
  let chunks: Buffer[] = [];
  let held = 0;
  let start = 0;

  const trim = (): void => {
    while (held > capacity) {
      const first = chunks[0] as Buffer;
      const excess = held - capacity;
      if (first.length <= excess) {
        chunks.shift();
        held -= first.length;
        start += first.length;
      } else {
        chunks[0] = first.subarray(excess);
        held -= excess;
        start += excess;
      }
    }
  };

  return {
    push(chunk) {
      if (chunk.length === 0) return;
      chunks.push(chunk);
      held += chunk.length;
      trim();
      // Keep the chunk list short for long chatty sessions.
      if (chunks.length > 1024) chunks = [Buffer.concat(chunks)];
    },
    get start() {
      return start;
    },
    get end() {
      return start + held;
    },
    since(offset) {
      const from = Math.max(offset, start);
      const all = Buffer.concat(chunks);
      return { data: all.subarray(from - start), missed: from - offset };
    },
  };
}

/** Length of the longest prefix that does not end inside a UTF-8 sequence. */
export function completeUtf8Length(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back += 1) {
    const byte = data[data.length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? data.length - back : data.length;
  }
  return data.length;
}

/** Offset past continuation bytes a trim may have left at the front. */
export function skipUtf8Continuation(data: Buffer): number {
  let skip = 0;
  while (skip < Math.min(3, data.length) && ((data[skip] ?? 0) & 0xc0) === 0x80) skip += 1;
  return skip;
}
