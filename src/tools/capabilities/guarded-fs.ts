/**
 * `ctx.fs`: file access for tools, behind the path rules (S2). Every path is
 * canonicalised and judged by the policy, and then the file that was judged is the
 * file that is used:
 * - opens use O_NOFOLLOW on the canonical path, and the opened descriptor's real path
 *   (/proc/self/fd) is judged again, so a link swapped in between check and open
 *   cannot lead outside the roots;
 * - writes go to a fresh temporary file (O_EXCL) beside the target, then rename over
 *   it: a reader never sees half a file, and rename replaces a planted link instead of
 *   following it;
 * - moving a file needs read and delete on the source and write on the destination,
 *   so a secret cannot be renamed into a readable name.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, promises as fsp, readlinkSync, readSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ConflictError, IronError, NotFoundError, PolicyDeniedError, ValidationError } from '../../core/index.js';
import type { Decision, PathCheck, Policy } from '../../policy/index.js';

type PathOp = 'read' | 'write' | 'list' | 'delete';

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileInfo {
  path: string;
  type: EntryType;
  size: number;
  /** Permission bits in octal, e.g. "644". */
  mode: string;
  modifiedAt: string;
  createdAt: string;
  accessedAt: string;
  /** For a symbolic link: where it points (not followed). */
  linkTarget?: string;
}

export interface DirEntry {
  name: string;
  /** Canonical path of the entry (a link's own path, not its target). */
  path: string;
  type: EntryType;
}

export interface ReadResult {
  /** The canonical path that was read. */
  path: string;
  data: Buffer;
  /** The file's size; larger than data.length when the read was capped. */
  size: number;
  truncated: boolean;
}

/** A regular file opened for reading by `readWith`: the descriptor that was judged, lent for positioned reads. */
export interface OpenedFile {
  /** The canonical path that was opened. */
  path: string;
  /** The size when it was opened. */
  size: number;
  /** Up to `length` bytes from `position`; fewer at the end of the file. */
  read(position: number, length: number): Promise<Buffer>;
}

export interface GuardedFs {
  /** The canonical path of `raw` if the policy allows `op` on it; PolicyDeniedError otherwise. */
  check(op: PathOp, raw: string): string;
  /** Whether the policy would allow `op` on an already canonical path (for walks). */
  allows(op: PathOp, canonical: string): boolean;
  readFile(raw: string, options?: { maxBytes?: number }): Promise<ReadResult>;
  /**
   * Opens a regular file for reading exactly as readFile does (judged, O_NOFOLLOW,
   * re-judged by its descriptor) and lends it to `use`, closing it afterwards. For
   * reads that seek (the tail or a line range of a large file) without reading it
   * whole, all from the one descriptor that was judged.
   */
  readWith<T>(raw: string, use: (file: OpenedFile) => Promise<T>): Promise<T>;
  /** Metadata of the entry itself (a link is reported as a link). */
  info(raw: string): Promise<FileInfo>;
  /** Entries of a directory, sorted by name. Links are reported, never followed. */
  list(raw: string): Promise<DirEntry[]>;
  /** Atomic: temp file + rename. `append` keeps the existing content in front. Returns the canonical path. */
  writeFile(raw: string, data: string | Uint8Array, options?: { append?: boolean }): Promise<{ path: string; bytes: number; created: boolean }>;
  /** Creates the directory and missing parents; fine if it exists. */
  mkdir(raw: string): Promise<{ path: string; created: boolean }>;
  /** Refuses to replace an existing destination. */
  move(from: string, to: string): Promise<{ from: string; to: string }>;
}

export interface GuardedFsOptions {
  policy: Policy;
  /** Relative paths are resolved here; default the first root. */
  cwd?: string;
  /** Largest file a write may produce. */
  maxFileBytes: number;
  /**
   * Asked when the policy refuses with `ask` (an approvable rule): resolves when a
   * matching grant was used, throws ApprovalRequiredError otherwise. Without it, `ask`
   * refusals are final.
   */
  onAsk?: (decision: Decision, action: { kind: 'path'; summary: string; exact: Record<string, unknown> }) => Promise<void>;
}

const COPY_CHUNK = 1 << 20;

export function createGuardedFs(options: GuardedFsOptions): GuardedFs {
  const { policy } = options;
  const cwd = options.cwd ?? policy.roots[0]!;

  /** The canonical path the policy allows, or its refusal thrown. */
  const canonicalOrThrow = ({ decision, path: canonical }: PathCheck): string => {
    if (!decision.allowed || canonical === undefined) throw new PolicyDeniedError(decision.rule, decision.severity, decision.reason);
    return canonical;
  };

  const check = (op: PathOp, raw: string): string => canonicalOrThrow(policy.checkPath(op, raw, { cwd }));

  /** Like check, for the operation a call asked for: an approvable refusal may be lifted by a grant. */
  const resolve = async (op: PathOp, raw: string): Promise<string> => {
    const result = policy.checkPath(op, raw, { cwd });
    const { decision, path: canonical } = result;
    if (!decision.allowed && decision.ask === true && canonical !== undefined && options.onAsk !== undefined) {
      await options.onAsk(decision, { kind: 'path', summary: `${op} ${canonical}`, exact: { op, path: canonical } });
      return canonical;
    }
    return canonicalOrThrow(result);
  };

  const allows = (op: PathOp, canonical: string): boolean => policy.checkPath(op, canonical, { cwd }).decision.allowed;

  /** Judges where an open descriptor really is, in case a link changed under the check. */
  const verifyOpened = async (handle: fsp.FileHandle, op: PathOp, expected: string): Promise<void> => {
    const actual = await fsp.readlink(`/proc/self/fd/${handle.fd}`).catch(() => expected);
    if (actual === expected) return;
    const { decision } = policy.checkPath(op, actual, { cwd });
    if (!decision.allowed) throw new PolicyDeniedError(decision.rule, decision.severity, `${decision.reason} (the path changed while it was being opened)`);
  };

  const openChecked = async (op: PathOp, canonical: string, flags: number, mode?: number): Promise<fsp.FileHandle> => {
    const handle = await fsp.open(canonical, flags | constants.O_NOFOLLOW, mode).catch((error: unknown) => {
      throw fsError(error, canonical);
    });
    try {
      await verifyOpened(handle, op, canonical);
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  };

  /**
   * Reads use synchronous system calls on the descriptor: each asynchronous one is a
   * round trip through libuv's thread pool, and a profile of small reads spent more
   * time on those round trips than on reading. O_NONBLOCK keeps the open itself from
   * waiting on a FIFO; anything but a regular file is refused before it is read.
   */
  const readWith: GuardedFs['readWith'] = async (raw, use) => {
    const canonical = await resolve('read', raw);
    let fd: number;
    try {
      fd = openSync(canonical, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      throw fsError(error, canonical);
    }
    let open = true;
    // A descriptor number is reused by the next open: a borrower that kept `read` must not reach whatever file gets it.
    const read = (position: number, length: number): Promise<Buffer> =>
      open ? Promise.resolve(readAtSync(fd, position, length)) : Promise.reject(new Error(`${canonical} was already closed`));
    try {
      verifyOpenedSync(fd, 'read', canonical);
      const stats = fstatSync(fd);
      if (stats.isDirectory()) throw new ValidationError(`${canonical} is a directory; list it instead`, [{ path: 'path', message: 'is a directory' }]);
      if (!stats.isFile()) throw new ValidationError(`${canonical} is not a regular file`, [{ path: 'path', message: 'not a regular file' }]);
      return await use({ path: canonical, size: stats.size, read });
    } finally {
      open = false;
      closeSync(fd);
    }
  };

  const verifyOpenedSync = (fd: number, op: PathOp, expected: string): void => {
    let actual = expected;
    try {
      actual = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // No /proc: the check before the open stands.
    }
    if (actual === expected) return;
    const { decision } = policy.checkPath(op, actual, { cwd });
    if (!decision.allowed) throw new PolicyDeniedError(decision.rule, decision.severity, `${decision.reason} (the path changed while it was being opened)`);
  };

  const readFile: GuardedFs['readFile'] = (raw, readOptions = {}) =>
    readWith(raw, async (file) => {
      const data = await file.read(0, Math.min(file.size, readOptions.maxBytes ?? file.size));
      return { path: file.path, data, size: file.size, truncated: data.length < file.size };
    });

  const info: GuardedFs['info'] = async (raw) => {
    // The entry itself: a link inside the roots is described, its target is not read.
    const own = entryPath(raw);
    const stats = await fsp.lstat(own).catch((error: unknown) => {
      throw fsError(error, own);
    });
    if (!stats.isSymbolicLink()) check('read', own);
    const linkTarget = stats.isSymbolicLink() ? await fsp.readlink(own) : undefined;
    return { path: own, ...describe(stats), ...(linkTarget === undefined ? {} : { linkTarget }) };
  };

  /**
   * The canonical path of an entry itself (its parent resolved, its own name kept, so
   * a link is not followed). A workspace root named as such is its own entry: its
   * parent lies outside the roots and cannot be judged for listing.
   */
  const entryPath = (raw: string): string => {
    const abs = path.posix.normalize(absolute(raw, cwd)).replace(/(.)\/$/, '$1');
    if (policy.roots.includes(abs)) return check('list', abs);
    const parent = check('list', path.posix.dirname(abs));
    return path.posix.join(parent, path.posix.basename(abs));
  };

  const list: GuardedFs['list'] = async (raw) => {
    const canonical = check('list', raw);
    const entries = await fsp.readdir(canonical, { withFileTypes: true }).catch((error: unknown) => {
      throw fsError(error, canonical);
    });
    return entries
      .map((entry) => ({ name: entry.name, path: path.posix.join(canonical, entry.name), type: entryType(entry) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };

  const writeFile: GuardedFs['writeFile'] = async (raw, data, writeOptions = {}) => {
    const target = await resolve('write', raw);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const existing = await fsp.lstat(target).catch(() => null);
    if (existing !== null && !existing.isFile()) {
      throw new ValidationError(`${target} exists and is not a regular file`, [{ path: 'path', message: `is a ${describe(existing).type}` }]);
    }
    const size = (writeOptions.append === true ? (existing?.size ?? 0) : 0) + bytes.length;
    if (size > options.maxFileBytes) {
      throw new IronError('payloadTooLarge', `writing ${target} would make it ${size} bytes, over this profile's limit of ${options.maxFileBytes}`);
    }
    const dir = path.posix.dirname(target);
    const temp = path.posix.join(dir, `.${path.posix.basename(target)}.ironcode-${randomBytes(6).toString('hex')}.tmp`);
    const mode = existing === null ? 0o666 : existing.mode & 0o7777;
    const out = await openChecked('write', temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    let renamed = false;
    try {
      if (writeOptions.append === true && existing !== null) await copyInto(out, target);
      await out.write(bytes);
      if (existing !== null) await out.chmod(mode);
      await out.sync();
      await out.close();
      await fsp.rename(temp, target);
      renamed = true;
      await syncDirectory(dir);
      return { path: target, bytes: bytes.length, created: existing === null };
    } finally {
      if (!renamed) {
        await out.close().catch(() => undefined);
        await fsp.unlink(temp).catch(() => undefined);
      }
    }
  };

  /** Copies the current content of `source` (opened without following links) into `out`. */
  const copyInto = async (out: fsp.FileHandle, source: string): Promise<void> => {
    const input = await openChecked('read', source, constants.O_RDONLY);
    try {
      const buffer = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, COPY_CHUNK, null);
        if (bytesRead === 0) break;
        await out.write(buffer, 0, bytesRead);
      }
    } finally {
      await input.close();
    }
  };

  const mkdir: GuardedFs['mkdir'] = async (raw) => {
    const canonical = await resolve('write', raw);
    const existing = await fsp.lstat(canonical).catch(() => null);
    if (existing !== null) {
      if (existing.isDirectory()) return { path: canonical, created: false };
      throw new ConflictError(`${canonical} exists and is not a directory`);
    }
    await fsp.mkdir(canonical, { recursive: true, mode: 0o777 }).catch((error: unknown) => {
      throw fsError(error, canonical);
    });
    // A parent swapped for a link while the directories were made shows here.
    const real = await fsp.realpath(canonical);
    if (real !== canonical) check('write', real);
    return { path: canonical, created: true };
  };

  const move: GuardedFs['move'] = async (from, to) => {
    const source = await resolve('delete', from);
    await resolve('read', source);
    const destination = await resolve('write', to);
    const sourceStats = await fsp.lstat(source).catch((error: unknown) => {
      throw fsError(error, source);
    });
    if (sourceStats.isDirectory()) await assertTreeReadable(source);
    if ((await fsp.lstat(destination).catch(() => null)) !== null) {
      throw new ConflictError(`${destination} already exists; move it away or delete it first`, { details: { path: destination } });
    }
    if (destination === source || destination.startsWith(`${source}/`)) {
      throw new ValidationError(`cannot move ${source} into itself`, [{ path: 'destination', message: 'inside the source' }]);
    }
    await fsp.rename(source, destination).catch((error: unknown) => {
      throw fsError(error, source);
    });
    return { from: source, to: destination };
  };

  /** A directory moved as a whole must not carry a file the policy would refuse to read. */
  const assertTreeReadable = async (dir: string): Promise<void> => {
    for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
      const child = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) await assertTreeReadable(child);
      else if (!entry.isSymbolicLink()) check('read', child);
    }
  };

  return { check, allows, readFile, readWith, info, list, writeFile, mkdir, move };
}

/** Fills up to `length` bytes from `position`, stopping early only at the end of the file. */
function readAtSync(fd: number, position: number, length: number): Buffer {
  if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`cannot read ${length} bytes at position ${position}`);
  }
  const data = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(fd, data, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return data.subarray(0, filled);
}

function absolute(raw: string, cwd: string): string {
  return raw.startsWith('/') ? raw : path.posix.join(cwd, raw);
}

function entryType(entry: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isDirectory()) return 'directory';
  if (entry.isFile()) return 'file';
  return 'other';
}

function describe(stats: Stats): Omit<FileInfo, 'path' | 'linkTarget'> {
  return {
    type: entryType(stats),
    size: stats.size,
    mode: (stats.mode & 0o7777).toString(8),
    modifiedAt: stats.mtime.toISOString(),
    createdAt: stats.birthtime.toISOString(),
    accessedAt: stats.atime.toISOString(),
  };
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY).catch(() => null);
  if (handle === null) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/** Node's errno errors as the error family, naming the path (and never the internals). */
function fsError(error: unknown, file: string): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new NotFoundError(`${file} does not exist`, { details: { path: file } });
    case 'ELOOP':
      return new PolicyDeniedError('path.symlink', 'high', `${file} became a symbolic link; it is not followed`);
    case 'EEXIST':
      return new ConflictError(`${file} already exists`, { details: { path: file } });
    case 'ENOTDIR':
      return new ValidationError(`a component of ${file} is not a directory`, [{ path: 'path', message: 'not a directory' }]);
    case 'EISDIR':
      return new ValidationError(`${file} is a directory`, [{ path: 'path', message: 'is a directory' }]);
    case 'EACCES':
    case 'EPERM':
      return new IronError('forbidden', `the operating system refused access to ${file}`, { details: { path: file } });
    case 'ENOSPC':
    case 'EDQUOT':
      return new IronError('unavailable', `no space left to write ${file}`, { details: { path: file } });
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}
