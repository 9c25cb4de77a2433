import path from 'node:path';
import type { Store } from '../store/index.js';

const tails = new Map<string, Promise<void>>();

/**
 * Runs `task` when every earlier task for the same SQLite file in this process has
 * settled. better-sqlite3 waits for a busy lock synchronously, blocking the event
 * loop; if two connections of one process interleaved their write transactions, the
 * waiting one would block the very transaction it waits for until busy_timeout runs
 * out. Across processes the wait is harmless, and PostgreSQL waits asynchronously,
 * so only same-process SQLite writers need this queue.
 */
export function inWriterTurn<T>(store: Store, task: () => Promise<T>): Promise<T> {
  if (store.dialect !== 'sqlite') return task();
  const key = path.resolve(store.location);
  const previous = tails.get(key) ?? Promise.resolve();
  const result = previous.then(task);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  tails.set(key, tail);
  void tail.then(() => {
    if (tails.get(key) === tail) tails.delete(key);
  });
  return result;
}
