/**
 * Writer: the encoder side of reader.ts, used by the generated codecs in `gen/`.
 *
 * Output is a list of chunks (`finish(): Buffer[]`), ready for `socket.cork(); write…; uncork()`:
 * - Small values go into a growable scratch Buffer (initially 1 KiB; when full, a new one of at least
 *   twice the current message's open segment is allocated and the open segment is copied over).
 * - `bytes`/`records` payloads of ZERO_COPY_MIN (1024) bytes or more are not copied: the current
 *   scratch segment is closed as a chunk and the payload Buffer itself becomes the next chunk. The
 *   caller must not modify such a payload until the chunks have been written out.
 *
 * Frame length back-patching:
 *   const at = w.reserveInt32();          // absolute offset of a 4-byte placeholder
 *   … encode header and body …
 *   w.patchInt32(at, w.length - at - 4);  // patch it, wherever it ended up (scratch or closed chunk)
 *   socket.write(…w.finish())
 *
 * Tagged-field sizes: `const m = w.beginSized(); …write value…; w.endSized(m)` inserts the uvarint
 * byte size of what was written since `m` at position `m` (a memmove of the few bytes written, or a
 * chunk split when a zero-copy chunk was pushed in between).
 *
 * Offsets (`length`, reserveInt32, beginSized) count from the last finish(). After finish() the
 * writer can be reused: it writes on in fresh space and never touches bytes it has handed out.
 */

export class EncodeError extends Error {
  override name = 'EncodeError';
}

/** Thrown by generated encoders for a null in a version where the field is not nullable. */
export function nullError(field: string, version: number): never {
  throw new EncodeError(`${field} is not nullable in version ${version}`);
}

export const ZERO_COPY_MIN = 1024;

const HEXVAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEXVAL[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEXVAL[65 + i] = 10 + i;
  HEXVAL[97 + i] = 10 + i;
}

function byteLength(v: Uint8Array | readonly Uint8Array[]): number {
  if (v instanceof Uint8Array) return v.length;
  let n = 0;
  for (const chunk of v) n += chunk.length;
  return n;
}

/** Number of bytes of an unsigned varint (0 … 2^32-1). */
export function uvarintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

export class Writer {
  private buf: Buffer;
  /** Start of the open (not yet chunked) segment in buf. */
  private start = 0;
  /** Write position in buf. */
  private pos = 0;
  private chunks: Buffer[] = [];
  /** Bytes in `chunks`. */
  private flushed = 0;
  private readonly minCapacity: number;

  /** DataView over buf for int64/float64 (much faster in V8 than Buffer's bigint methods); reset on growth. */
  private dv: DataView | undefined;

  constructor(initialSize = 1024) {
    this.minCapacity = Math.max(16, initialSize);
    this.buf = Buffer.allocUnsafe(this.minCapacity);
  }

  private view64(): DataView {
    return (this.dv ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  /** Bytes written since the last finish(). */
  get length(): number {
    return this.flushed + this.pos - this.start;
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const used = this.pos - this.start;
    const nb = Buffer.allocUnsafe(Math.max(this.minCapacity, (used + n) * 2));
    this.buf.copy(nb, 0, this.start, this.pos);
    this.buf = nb;
    this.dv = undefined;
    this.start = 0;
    this.pos = used;
  }

  private closeSegment(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.flushed += this.pos - this.start;
      this.start = this.pos;
    }
  }

  /** The chunks written since the last finish(); the writer is then empty and reusable. */
  finish(): Buffer[] {
    this.closeSegment();
    const c = this.chunks;
    this.chunks = [];
    this.flushed = 0;
    return c;
  }

  /** finish() concatenated into one Buffer (tests, small messages). */
  toBuffer(): Buffer {
    const c = this.finish();
    return c.length === 1 ? c[0]! : Buffer.concat(c);
  }

  // ---- fixed-width -------------------------------------------------------------------------------

  int8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  uint16(v: number): void {
    this.int16(v);
  }

  int32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >> 24;
    b[p + 1] = v >> 16;
    b[p + 2] = v >> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  uint32(v: number): void {
    this.int32(v);
  }

  int64(v: bigint): void {
    this.ensure(8);
    if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) throw new EncodeError(`int64 out of range: ${v}`);
    this.view64().setBigInt64(this.pos, v);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.view64().setFloat64(this.pos, v);
    this.pos += 8;
  }

  /** Canonical `8-4-4-4-12` or plain 32-digit hex text, any case → 16 bytes. */
  uuid(v: string): void {
    this.ensure(16);
    const b = this.buf;
    let p = this.pos;
    const len = v.length;
    if (len !== 36 && len !== 32) throw new EncodeError(`bad uuid ${JSON.stringify(v)}`);
    const dashed = len === 36;
    let i = 0;
    for (let k = 0; k < 16; k++) {
      if (dashed && (i === 8 || i === 13 || i === 18 || i === 23)) {
        if (v.charCodeAt(i) !== 45) throw new EncodeError(`bad uuid ${JSON.stringify(v)}`);
        i++;
      }
      const hi = HEXVAL[v.charCodeAt(i) & 0x7f]!;
      const lo = HEXVAL[v.charCodeAt(i + 1) & 0x7f]!;
      if (hi < 0 || lo < 0 || v.charCodeAt(i) > 0x7f || v.charCodeAt(i + 1) > 0x7f) {
        throw new EncodeError(`bad uuid ${JSON.stringify(v)}`);
      }
      b[p++] = (hi << 4) | lo;
      i += 2;
    }
    this.pos = p;
  }

  // ---- varints -----------------------------------------------------------------------------------

  /** Unsigned LEB128 of 0 … 2^32-1 (larger safe integers are accepted too, up to 2^53). */
  uvarint(v: number): void {
    if (v >= 0 && v < 0x80 && this.pos < this.buf.length) {
      this.buf[this.pos++] = v;
      return;
    }
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    if (v <= 0xffffffff) {
      v >>>= 0;
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v >= 0x80) {
        b[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
    }
    b[p++] = v;
    this.pos = p;
  }

  /** Zig-zag signed varint (int32). */
  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** Zig-zag signed varlong (int64). */
  varlong(v: bigint): void {
    if (v >= -0x10000000000000n && v < 0x10000000000000n) {
      // |v| < 2^52: zig-zag fits in 2^53, exact in a double.
      const n = Number(v);
      this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
      return;
    }
    if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) throw new EncodeError(`varlong out of range: ${v}`);
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (u >= 0x80n) {
      b[p++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    b[p++] = Number(u);
    this.pos = p;
  }

  // ---- strings -----------------------------------------------------------------------------------

  /** int16 length + UTF-8. */
  string(v: string): void {
    // Write the text first (at most 3 bytes per UTF-16 unit), then the length in front of it.
    this.ensure(2 + v.length * 3);
    const p = this.pos;
    const n = v.length === 0 ? 0 : this.buf.write(v, p + 2, 'utf8');
    if (n > 0x7fff) throw new EncodeError(`string of ${n} bytes is too long for an int16 length`);
    this.buf[p] = n >> 8;
    this.buf[p + 1] = n;
    this.pos = p + 2 + n;
  }

  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }

  /** uvarint length+1 + UTF-8. */
  compactString(v: string): void {
    if (v.length <= 42) {
      // ≤ 126 UTF-8 bytes, so the length prefix is one byte.
      this.ensure(1 + v.length * 3);
      const p = this.pos;
      const n = v.length === 0 ? 0 : this.buf.write(v, p + 1, 'utf8');
      this.buf[p] = n + 1;
      this.pos = p + 1 + n;
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.uvarint(n + 1);
    this.ensure(n);
    this.buf.write(v, this.pos, 'utf8');
    this.pos += n;
  }

  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }

  // ---- bytes -------------------------------------------------------------------------------------

  /** Appends raw bytes (no length): copied when small, pushed as its own chunk when ≥ ZERO_COPY_MIN. */
  raw(v: Uint8Array): void {
    const n = v.length;
    if (n >= ZERO_COPY_MIN) {
      this.closeSegment();
      this.chunks.push(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, n));
      this.flushed += n;
      return;
    }
    this.ensure(n);
    this.buf.set(v, this.pos);
    this.pos += n;
  }

  /** int32 length + bytes (given whole or in chunks). */
  bytes(v: Uint8Array | readonly Uint8Array[]): void {
    this.int32(byteLength(v));
    this.rawAll(v);
  }

  nullableBytes(v: Uint8Array | readonly Uint8Array[] | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }

  compactBytes(v: Uint8Array | readonly Uint8Array[]): void {
    this.uvarint(byteLength(v) + 1);
    this.rawAll(v);
  }

  compactNullableBytes(v: Uint8Array | readonly Uint8Array[] | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }

  private rawAll(v: Uint8Array | readonly Uint8Array[]): void {
    if (v instanceof Uint8Array) this.raw(v);
    else for (const chunk of v) this.raw(chunk);
  }

  // ---- arrays ------------------------------------------------------------------------------------

  /** int32 count; -1 for null. */
  arrayLength(n: number): void {
    this.int32(n);
  }

  /** uvarint count+1; -1 for null (written as 0). */
  compactArrayLength(n: number): void {
    this.uvarint(n + 1);
  }

  // ---- back-patching -----------------------------------------------------------------------------

  /** Writes a 4-byte placeholder and returns its offset, for patchInt32. */
  reserveInt32(): number {
    const at = this.length;
    this.int32(0);
    return at;
  }

  /** Overwrites 4 bytes at offset `at` (from the last finish()) with a big-endian int32. */
  patchInt32(at: number, v: number): void {
    const [b, p] = this.locate(at, 4);
    b.writeInt32BE(v | 0, p);
  }

  private locate(at: number, n: number): [Buffer, number] {
    if (at >= this.flushed) {
      const p = this.start + (at - this.flushed);
      if (p + n > this.pos) throw new RangeError(`offset ${at} is past the written data`);
      return [this.buf, p];
    }
    let off = 0;
    for (const c of this.chunks) {
      if (at < off + c.length) {
        if (at + n > off + c.length) throw new RangeError(`offset ${at} straddles a chunk boundary`);
        return [c, at - off];
      }
      off += c.length;
    }
    throw new RangeError(`offset ${at} is past the written data`);
  }

  /** Marks the start of a value whose uvarint byte size endSized() will insert in front of it. */
  beginSized(): number {
    return this.length;
  }

  endSized(mark: number): void {
    const size = this.length - mark;
    const n = uvarintSize(size);
    if (mark >= this.flushed) {
      this.ensure(n);
      const p = this.start + (mark - this.flushed);
      this.buf.copyWithin(p + n, p, this.pos);
      const end = this.pos + n;
      this.pos = p;
      this.uvarint(size);
      this.pos = end;
      return;
    }
    // Rare: a zero-copy chunk was pushed since the mark. Split the chunk holding the mark.
    const prefix = Buffer.allocUnsafe(n);
    let q = 0;
    let v = size;
    while (v >= 0x80) {
      prefix[q++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    prefix[q] = v;
    let off = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (mark < off + c.length) {
        const k = mark - off;
        const parts = k === 0 ? [prefix, c] : [c.subarray(0, k), prefix, c.subarray(k)];
        this.chunks.splice(i, 1, ...parts);
        this.flushed += n;
        return;
      }
      off += c.length;
    }
    throw new RangeError(`mark ${mark} is past the written data`);
  }
}
