/**
 * Object store over a local folder (the embedded default, `<data.dir>/objects`).
 *
 * A key maps to a file under the root; `/` in a key makes subfolders. Writes are atomic and durable:
 * temp file in the target folder → write → fsync → rename → fsync the folder (and the parents of any
 * folder just created). Readers see a whole object or none. Temp files are named `.floe-tmp-*`; `list`
 * never shows them, and keys may not use that name.
 *
 * The data is written with O_DIRECT where the file system takes it (through reused page-aligned buffers,
 * aligned-buffer-pool.ts, the last block padded and the file cut to its size): a buffered write copies every
 * byte into page-cache pages the broker never reads back (its object cache holds what it wrote), which cost
 * more CPU than the rest of the write path on a VM whose fresh pages are slow. Gets read with O_DIRECT too
 * (the objects are not in the page cache, and a buffered read would fill fresh page-cache pages on the way),
 * through the same buffers: aligned reads around the range, the range copied out. A file system that
 * refuses O_DIRECT (some overlays, FUSE; tmpfs before Linux 6.6) gets buffered I/O, decided once per store for
 * writes and for reads.
 *
 * A put is mostly waiting for libuv's thread pool (4 threads, shared with the rest of the process), every step
 * a round trip through the main thread, which on a busy machine may be late by tens of milliseconds. So a put
 * takes as few steps as it can: a folder made or written into before is not made again, a folder's handle is
 * kept open for its fsync (a few at most; the folders are the store's own: one removed and made again by
 * someone else is noticed only when missing), and the temp file is closed while it is renamed. Puts are not
 * queued behind one another: concurrent fsyncs share the file system's journal commits (with 2 puts at a
 * time, the bench's 80 % load on a busy machine had PUT p99 0.3-2.2 s against 0.1-0.5 s without a limit).
 *
 * Limits of a file system (not of S3): a key cannot also be a "folder" of another key ("a" and "a/b"
 * cannot both exist), and empty folders are left behind by deletes.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ObjectNotFoundError, type ByteRange, type ObjectInfo, type ObjectStore } from './object-store.ts';
import { AlignedBufferPool, DIRECT_IO_ALIGNMENT } from './aligned-buffer-pool.ts';

const TEMP_PREFIX = '.floe-tmp-';
const DELETE_CONCURRENCY = 32;
/** O_DIRECT staging: 4 slots of 4 MiB (16 MiB, allocated on the first put), shared by the stores of a process. */
const DIRECT_SLOT_BYTES = 4 * 1024 * 1024;
const DIRECT_SLOTS = 4;
let directBuffers: AlignedBufferPool | null = null;
/** Folder handles kept open for fsync, and folders known to exist, per store (objects live in a few folders). */
const MAX_DIR_HANDLES = 8;
const MAX_KNOWN_DIRS = 1024;

export interface FsObjectStoreOptions {
  /** Write objects with O_DIRECT where the file system allows it (default true); false: always buffered. */
  directIo?: boolean;
  /** Opens a new temp file for O_DIRECT writes (tests inject a file system that refuses them). */
  openDirect?: (path: string) => Promise<FileHandle>;
}

function openDirect(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644);
}

/** An O_DIRECT write the file system or device refused (EINVAL): this store writes buffered from then on. */
class DirectIoRefused extends Error {}

export class InvalidObjectKeyError extends Error {
  constructor(readonly key: string, reason: string) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidObjectKeyError';
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The file system or device would not do an O_DIRECT I/O: the caller goes on buffered. */
function isDirectIoRefusal(err: unknown): boolean {
  return err instanceof DirectIoRefused || (err as NodeJS.ErrnoException).code === 'EINVAL';
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class FsObjectStore implements ObjectStore {
  /** Absolute path of the folder holding the objects. */
  readonly root: string;

  /** Whether puts still try O_DIRECT (false once the file system refused it). */
  private direct: boolean;
  private readonly openDirect: (path: string) => Promise<FileHandle>;
  /** Whether gets still read with O_DIRECT (false once the file system refused it). */
  private directReads: boolean;
  /** Folders this store made or wrote into (a put there needs no mkdir). */
  private readonly knownDirs = new Set<string>();
  /** Open handles of folders, for their fsync after a rename; oldest first. */
  private readonly dirHandles = new Map<string, Promise<FileHandle>>();

  constructor(root: string, options: FsObjectStoreOptions = {}) {
    this.root = resolve(root);
    this.direct = options.directIo ?? true;
    this.openDirect = options.openDirect ?? openDirect;
    this.directReads = this.direct;
  }

  /** True while puts write with O_DIRECT (for tests: false after the file system refused it). */
  get directIo(): boolean {
    return this.direct;
  }

  /** Path of `key`'s file, after checking the key cannot escape the root or clash with temp files. */
  private pathOf(key: string): string {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidObjectKeyError(key, 'empty');
    if (key.includes('\0')) throw new InvalidObjectKeyError(key, 'contains NUL');
    if (key.includes('\\')) throw new InvalidObjectKeyError(key, 'contains a backslash');
    for (const segment of key.split('/')) {
      if (segment === '') throw new InvalidObjectKeyError(key, 'empty path segment (leading, trailing or double /)');
      if (segment === '.' || segment === '..') throw new InvalidObjectKeyError(key, `'${segment}' segment`);
      if (segment.startsWith(TEMP_PREFIX)) throw new InvalidObjectKeyError(key, `segment starts with ${TEMP_PREFIX}`);
    }
    const path = resolve(this.root, key);
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || rel.startsWith(sep) || resolve(this.root, rel) !== path) {
      throw new InvalidObjectKeyError(key, 'escapes the store root');
    }
    return path;
  }

  /** Durably: temp file, fsync, rename, fsync of the folder. */
  async put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    const path = this.pathOf(key);
    const chunks = Buffer.isBuffer(body) ? [body] : body;
    const dir = dirname(path);
    let firstCreated: string | undefined;
    if (!this.knownDirs.has(dir)) firstCreated = await this.makeDir(dir);
    let tmp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
    let fh: FileHandle | undefined;
    try {
      if (this.direct) {
        try {
          fh = await this.openTemp(tmp, dir, () => this.openDirect(tmp), (d) => { firstCreated ??= d; });
          await writeDirect(fh, chunks);
        } catch (err) {
          if (!isDirectIoRefusal(err)) throw err;
          this.direct = false;
          await fh?.close().catch(() => undefined);
          fh = undefined;
          await unlink(tmp).catch(() => undefined);
          tmp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
        }
      }
      if (fh === undefined) {
        fh = await this.openTemp(tmp, dir, () => open(tmp, 'wx', 0o644), (d) => { firstCreated ??= d; });
        await writeAll(fh, chunks);
      }
      await fh.sync();
      // The bytes are durable: the file is closed while it is renamed (a step less to wait for).
      const closed = fh.close();
      fh = undefined;
      try {
        await rename(tmp, path);
      } finally {
        await closed.catch(() => undefined);
      }
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await this.syncDir(dir);
    if (firstCreated !== undefined) {
      // New folders: make their entries durable too, up to the first folder that already existed.
      for (let d = dirname(dir); ; d = dirname(d)) {
        await fsyncDir(d);
        if (d === dirname(firstCreated) || d === this.root || d === dirname(d)) break;
      }
    }
  }

  /** mkdir -p, remembered; the first folder it created, if any. */
  private async makeDir(dir: string): Promise<string | undefined> {
    const created = await mkdir(dir, { recursive: true });
    if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.knownDirs.clear();
    this.knownDirs.add(dir);
    return created;
  }

  /**
   * Opens a new temp file in `dir`; if the folder is gone (removed behind the store's back since it was
   * known), forgets it, makes it again (telling `onCreated` the first folder made) and opens once more.
   */
  private async openTemp(tmp: string, dir: string, openIt: () => Promise<FileHandle>, onCreated: (first: string) => void): Promise<FileHandle> {
    try {
      return await openIt();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.knownDirs.delete(dir);
      this.dropDirHandle(dir);
      const created = await this.makeDir(dir);
      if (created !== undefined) onCreated(created);
      return openIt();
    }
  }

  /** fsync of a folder through a handle kept open (opened on first use; the oldest closed past MAX_DIR_HANDLES). */
  private async syncDir(dir: string): Promise<void> {
    let handle = this.dirHandles.get(dir);
    if (handle === undefined) {
      handle = open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      handle.catch(() => undefined);
      this.dirHandles.set(dir, handle);
      if (this.dirHandles.size > MAX_DIR_HANDLES) this.dropDirHandle(this.dirHandles.keys().next().value!);
    }
    try {
      await (await handle).sync();
    } catch (err) {
      // Not kept: the next put opens the folder afresh.
      this.dropDirHandle(dir);
      throw err;
    }
  }

  private dropDirHandle(dir: string): void {
    const handle = this.dirHandles.get(dir);
    if (handle === undefined) return;
    this.dirHandles.delete(dir);
    // A put may still be syncing through it: closed once that is done (an fsync in flight holds its own reference).
    void handle.then((h) => h.close()).catch(() => undefined);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(key);
    if (range !== undefined) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new RangeError(`invalid byte range [${start}, ${end}) for ${key}`);
      }
      if (start === end) return Buffer.alloc(0);
    }
    let direct = this.directReads;
    let fh: FileHandle;
    try {
      fh = await open(path, direct ? constants.O_RDONLY | constants.O_DIRECT : 'r');
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') throw new ObjectNotFoundError(key);
      if (!direct || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.directReads = direct = false;
      fh = await open(path, 'r');
    }
    try {
      const size = (await fh.stat()).size;
      let start = 0;
      let end = size;
      if (range !== undefined) {
        start = range.start;
        if (start >= size) throw new RangeError(`byte range [${start}, ${range.end}) starts past the end of ${key} (${size} B)`);
        // Like S3: a range running past the end is cut at the end.
        end = Math.min(range.end, size);
      }
      const out = Buffer.allocUnsafe(end - start);
      let filled = -1;
      if (direct) {
        try {
          filled = await readDirect(fh, out, start);
        } catch (err) {
          if (!isDirectIoRefusal(err)) throw err;
          this.directReads = false;
          await fh.close();
          fh = await open(path, 'r');
        }
      }
      if (filled < 0) {
        filled = 0;
        while (filled < out.length) {
          const { bytesRead } = await fh.read(out, filled, out.length - filled, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
      }
      return filled === out.length ? out : out.subarray(0, filled);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new ObjectNotFoundError(key);
      throw err;
    } finally {
      await fh.close();
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const paths = keys.map((k) => this.pathOf(k));
    for (let i = 0; i < paths.length; i += DELETE_CONCURRENCY) {
      await Promise.all(
        paths.slice(i, i + DELETE_CONCURRENCY).map(async (p) => {
          try {
            await unlink(p);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (!isNotFound(err) && code !== 'EISDIR' && code !== 'EPERM') throw err;
          }
        }),
      );
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the deepest folder the prefix fully names; filter the rest by string prefix.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash + 1);
    const baseSegments = baseKey.split('/').filter((s) => s !== '');
    if (baseSegments.some((s) => s === '.' || s === '..')) return;
    const baseDir = baseSegments.length === 0 ? this.root : join(this.root, ...baseSegments);

    const keys: string[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.startsWith(TEMP_PREFIX)) continue;
        const key = keyPrefix + e.name;
        if (e.isDirectory()) {
          // Descend only where keys can still match the prefix.
          const asFolder = `${key}/`;
          if (asFolder.startsWith(prefix) || prefix.startsWith(asFolder)) await walk(join(dir, e.name), asFolder);
        } else if (e.isFile() && key.startsWith(prefix)) {
          keys.push(key);
        }
      }
    };
    await walk(baseDir, baseKey);
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
      let st;
      try {
        st = await stat(join(this.root, ...key.split('/')));
      } catch (err) {
        if (isNotFound(err)) continue; // deleted meanwhile
        throw err;
      }
      yield { key, size: st.size, lastModified: st.mtime };
    }
  }

  async close(): Promise<void> {
    const handles = [...this.dirHandles.values()];
    this.dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh.close()).catch(() => undefined)));
  }
}

/**
 * Writes `chunks` through an aligned staging slot: whole slots, then the rest padded to the alignment, and cuts
 * the file to the real size. Throws DirectIoRefused (or an EINVAL error) when the file system will not.
 */
async function writeDirect(fh: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  await withDirectSlot(async (slot) => {
    let position = 0;
    let fill = 0;
    const writeSlot = async (bytes: number) => {
      const { bytesWritten } = await fh.write(slot, 0, bytes, position);
      // A short O_DIRECT write leaves no aligned place to go on from.
      if (bytesWritten !== bytes) throw new DirectIoRefused(`short O_DIRECT write: ${bytesWritten} of ${bytes} bytes`);
      position += bytes;
    };
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length;) {
        const n = Math.min(chunk.length - at, slot.length - fill);
        chunk.copy(slot, fill, at, at + n);
        fill += n;
        at += n;
        if (fill === slot.length) {
          await writeSlot(fill);
          fill = 0;
        }
      }
    }
    if (fill > 0) {
      const padded = Math.ceil(fill / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
      slot.fill(0, fill, padded);
      await writeSlot(padded);
      if (padded !== fill) await fh.truncate(position - padded + fill);
    }
  });
}

/**
 * Reads `out.length` bytes from `start` of an O_DIRECT file through an aligned staging slot (aligned reads
 * around the range, the range copied out); fewer at the end of the file. Returns the bytes read.
 */
async function readDirect(fh: FileHandle, out: Buffer, start: number): Promise<number> {
  return withDirectSlot(async (slot) => {
    const end = start + out.length;
    const alignedEnd = Math.ceil(end / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
    let position = Math.floor(start / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
    let filled = 0;
    while (filled < out.length) {
      const want = Math.min(slot.length, alignedEnd - position);
      const { bytesRead } = await fh.read(slot, 0, want, position);
      const from = start + filled - position;
      const copied = Math.max(0, Math.min(bytesRead - from, out.length - filled));
      if (copied > 0) slot.copy(out, filled, from, from + copied);
      filled += copied;
      if (bytesRead < want) break; // the end of the file
      position += bytesRead;
    }
    return filled;
  });
}

/** Runs `io` with an aligned staging slot of the process's pool, given back afterwards. */
async function withDirectSlot<T>(io: (slot: Buffer) => Promise<T>): Promise<T> {
  let slot: Buffer;
  const pool = (directBuffers ??= new AlignedBufferPool(DIRECT_SLOT_BYTES, DIRECT_SLOTS));
  try {
    slot = await pool.acquire();
  } catch (err) {
    throw new DirectIoRefused(`no aligned memory: ${String(err)}`);
  }
  try {
    return await io(slot);
  } finally {
    pool.release(slot);
  }
}

async function writeAll(fh: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  let pending = chunks.filter((c) => c.length > 0);
  while (pending.length > 0) {
    // writev takes at most IOV_MAX (1024) buffers at a time; it may also write short.
    const slice = pending.slice(0, 1024);
    let { bytesWritten } = await fh.writev(slice);
    let consumed = 0;
    while (consumed < slice.length && bytesWritten >= slice[consumed]!.length) {
      bytesWritten -= slice[consumed]!.length;
      consumed++;
    }
    const rest = pending.slice(consumed);
    if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
    pending = rest;
  }
}
