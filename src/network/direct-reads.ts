/**
 * Direct reads: a socket's `onread` reads a request straight into the buffer the request will live in,
 * instead of into a fresh 64 KiB chunk per read that is then copied into the frame. Headers and small
 * requests are read into a scratch buffer that the sockets of one listener or network thread share (each
 * read is handled before the next one of any socket, and what is left of it is copied out, as it is small);
 * once a frame's size is known and reserved, the rest of it is read into its own buffer. That spares a copy
 * of every byte of large requests, and the 64 KiB ArrayBuffers whose bytes made V8 collect garbage (young
 * and full collections "for external memory pressure") as often as the frames did.
 *
 * One per socket, used by Connection on the main thread (connection.ts cuts frames from what it hands over)
 * and by the network threads, whose program is plain JavaScript in a string (network-thread-source.ts):
 * that text embeds this class's own (`DirectReads.toString()`), so the class uses only its members and
 * Node's globals — no imports, no helpers of this module, no TypeScript that compiles to helpers.
 */
/** Bytes of the scratch buffer of direct reads (Node's own read size). */
export const DIRECT_READS_SCRATCH_BYTES = 64 * 1024;

export class DirectReads {
  /** Headers and small requests are read here (shared with the other sockets of the listener or thread). */
  readonly scratch: Buffer;
  /** The buffer of a frame of `bytes` (a network thread's owns its ArrayBuffer, to transfer it). */
  private readonly allocate: (bytes: number) => Buffer;
  /** The frame (with its 4-byte size) the kernel is reading into, and how much of it is in. */
  private frame: Buffer | null;
  private filled: number;

  constructor(scratch: Buffer, allocate: (bytes: number) => Buffer) {
    this.scratch = scratch;
    this.allocate = allocate;
    this.frame = null;
    this.filled = 0;
  }

  /** The buffer the next socket read goes into: the rest of the frame being read, or the scratch buffer. */
  nextBuffer(): Buffer {
    return this.frame !== null ? this.frame.subarray(this.filled) : this.scratch;
  }

  /**
   * `bytes` were read into the start of `into` (what nextBuffer returned). A frame this read completes is
   * passed to `whole` (with its size, and reserved since its size was read); returns the rest of the read
   * (a view of the scratch buffer, to cut frames from and then `keepOwned`), or null when there is none.
   */
  take(bytes: number, into: Buffer, whole: (frame: Buffer) => void): Buffer | null {
    let rest = bytes;
    const frame = this.frame;
    if (frame !== null) {
      if (into.buffer === frame.buffer && into.byteOffset === frame.byteOffset + this.filled) {
        this.filled += bytes;
        rest = 0;
      } else {
        // Read into the scratch buffer handed out before the frame got its own (it got it when reading
        // resumed, after that buffer was given to the socket): the frame's bytes move over.
        const n = Math.min(bytes, frame.length - this.filled);
        into.copy(frame, this.filled, 0, n);
        this.filled += n;
        rest = bytes - n;
      }
      if (this.filled < frame.length) return null;
      this.frame = null;
      this.filled = 0;
      whole(frame);
    }
    return rest > 0 ? into.subarray(bytes - rest, bytes) : null;
  }

  /**
   * After a read's bytes were cut into frames, with `pending` (`pendingBytes` in all) left: when the frame at
   * their front is reserved (`reserved`, its 4 + size; 0: none) but not all in, it gets its own buffer, the
   * pending bytes move there for the kernel to read the rest after them, and true is returned (the caller
   * empties `pending`). Otherwise the pending chunks in the scratch buffer are replaced by copies of them,
   * since the next read reuses it.
   */
  keepOwned(pending: Buffer[], pendingBytes: number, reserved: number): boolean {
    if (this.frame === null && reserved > 0 && pendingBytes < reserved) {
      const frame = this.allocate(reserved);
      let at = 0;
      for (const chunk of pending) at += chunk.copy(frame, at);
      this.frame = frame;
      this.filled = at;
      return true;
    }
    const scratch = this.scratch.buffer;
    for (let i = 0; i < pending.length; i++) {
      const chunk = pending[i]!;
      if (chunk.buffer === scratch) pending[i] = Buffer.from(chunk);
    }
    return false;
  }

  /** Forgets the frame being read (the connection stopped reading). */
  drop(): void {
    this.frame = null;
    this.filled = 0;
  }
}
