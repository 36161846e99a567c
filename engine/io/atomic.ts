/**
 * Atomic file writes: a crash, a full disk or a permission error must never leave a half-written
 * checkpoint where a good one used to be. We write a temp file next to the target (same directory, so the
 * final rename stays on one file system and is atomic), fsync it, rename it over the target, then fsync
 * the directory so the rename itself survives a power loss.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PeftStudioError } from '../errors';

/** The fs calls the sync writer makes; tests pass a wrapper that fails on purpose. */
export interface AtomicFs {
  openSync(file: string, flags: string, mode?: number): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(file: string): void;
}

/** The subset of a `fs.promises` FileHandle the async writer uses. */
export interface AtomicFileHandle {
  write(data: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The fs calls the async writer makes; tests pass a wrapper that fails on purpose. */
export interface AtomicFsAsync {
  open(file: string, flags: string, mode?: number): Promise<AtomicFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
}

const nodeFs: AtomicFs = fs;
const nodeFsAsync: AtomicFsAsync = fs.promises;

/** `.<name>.tmp-<pid>-<random>` beside the target: hidden, and unique across processes and calls. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

const REASONS: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOENT: 'the directory does not exist',
  ENOTDIR: 'a parent path is not a directory',
  EISDIR: 'the target is a directory',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

/** Turns an fs failure into the user-facing IO error; the previous file is untouched by then. */
export function ioError(file: string, err: unknown, doing = 'write'): PeftStudioError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = (code && REASONS[code]) || (err instanceof Error ? err.message : String(err));
  return new PeftStudioError('IO', `Cannot ${doing} ${file}: ${reason}${code ? ` (${code})` : ''}.`, file);
}

/** The fs calls makeDirs makes; tests pass a wrapper that fails on purpose. */
export interface MakeDirsFs {
  mkdirSync(dir: string): unknown;
  statSync(p: string): { isDirectory(): boolean };
}

/**
 * `mkdir -p` that reports why it failed. Node's recursive mkdir turns some failures of a parent (EROFS, a
 * read-only file system, among them) into ENOENT, "the directory does not exist", which sends a user looking
 * for the wrong problem; creating each missing folder in turn surfaces the kernel's own reason, and the
 * message names the folder that could not be created.
 */
export function makeDirs(dir: string, doing = 'create folder', fsImpl: MakeDirsFs = fs): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    let exists = false;
    try {
      exists = fsImpl.statSync(p).isDirectory() || true;
    } catch (err) {
      // ENOENT: create it (after its parent). Anything else (ENOTDIR, EACCES): mkdir below says what.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        missing.push(p);
        break;
      }
    }
    if (exists) break;
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const d of missing.reverse()) {
    try {
      fsImpl.mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && isDirectory(d, fsImpl)) continue;
      const e = ioError(dir, err, doing);
      if (path.resolve(d) === path.resolve(dir)) throw e;
      throw new PeftStudioError('IO', e.message.replace(/: ([^:]*)\.$/, `: cannot create ${d}: $1.`), dir);
    }
  }
  if (!isDirectory(dir, fsImpl)) throw new PeftStudioError('IO', `Cannot ${doing} ${dir}: a file of that name exists, not a folder.`, dir);
}

function isDirectory(p: string, fsImpl: MakeDirsFs): boolean {
  try {
    return fsImpl.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Best effort: Windows and some file systems refuse to open or fsync a directory, which is fine. */
function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // not supported here; the rename is still atomic, just not guaranteed durable
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: Uint8Array | string, fsImpl: AtomicFs = nodeFs): void {
  const bytes = toBytes(data);
  const tmp = tempPathFor(file);
  let fd: number | undefined;
  let created = false;
  try {
    fd = fsImpl.openSync(tmp, 'wx', 0o666);
    created = true;
    let done = 0;
    while (done < bytes.length) done += fsImpl.writeSync(fd, bytes, done, bytes.length - done);
    fsImpl.fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    fsImpl.closeSync(closing);
    fsImpl.renameSync(tmp, file);
    created = false;
  } catch (err) {
    if (fd !== undefined) {
      try {
        fsImpl.closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    if (created) {
      try {
        fsImpl.unlinkSync(tmp);
      } catch {
        // nothing more we can do; the target itself was never touched
      }
    }
    throw ioError(file, err);
  }
  fsyncDirectory(path.dirname(file));
}

export async function writeFileAtomicAsync(
  file: string,
  data: Uint8Array | string,
  fsImpl: AtomicFsAsync = nodeFsAsync,
): Promise<void> {
  const bytes = toBytes(data);
  const tmp = tempPathFor(file);
  let handle: AtomicFileHandle | undefined;
  let created = false;
  try {
    handle = await fsImpl.open(tmp, 'wx', 0o666);
    created = true;
    let done = 0;
    while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
    await handle.sync();
    const closing = handle;
    handle = undefined;
    await closing.close();
    await fsImpl.rename(tmp, file);
    created = false;
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    if (created) await fsImpl.unlink(tmp).catch(() => undefined);
    throw ioError(file, err);
  }
  fsyncDirectory(path.dirname(file));
}
