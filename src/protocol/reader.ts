/**
 * Reader: a cursor over one Kafka frame (or any Buffer range), with the wire primitives the generated
 * codecs in `gen/` call. Big-endian; varints as in Kafka's ByteUtils (LEB128, zig-zag for signed), here
 * and in writer.ts rather than in a varint.ts of their own (STYLE.md), as each side needs only its half.
 *
 * - Every read checks against `end` and throws DecodeError on truncation, bad lengths or bad nulls,
 *   so a hostile frame can never make us read outside [start, end) or allocate per a garbage count.
 * - `bytes`/`records` are returned as `subarray` views into the input buffer (no copy): they keep the
 *   whole input alive; copy them if you hold them longer than the request.
 * - Strings are decoded with `toString('utf8', s, e)` (malformed UTF-8 becomes U+FFFD, as in Java).
 */

export class DecodeError extends Error {
  override name = 'DecodeError';
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    if (!(start >= 0 && start <= end && end <= buf.length)) {
      throw new RangeError(`bad reader range [${start}, ${end}) over ${buf.length} bytes`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  /** Advance by n bytes, returning the old position. */
  private take(n: number): number {
    const p = this.pos;
    if (p + n > this.end) throw eof(n, this.end - p);
    this.pos = p + n;
    return p;
  }

  skip(n: number): void {
    if (n < 0) throw new DecodeError(`negative skip ${n}`);
    this.take(n);
  }

  // ---- fixed-width -------------------------------------------------------------------------------

  int8(): number {
    const p = this.take(1);
    return (this.buf[p]! << 24) >> 24;
  }

  bool(): boolean {
    const p = this.take(1);
    return this.buf[p] !== 0;
  }

  int16(): number {
    const p = this.take(2);
    const b = this.buf;
    return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
  }

  uint16(): number {
    const p = this.take(2);
    const b = this.buf;
    return (b[p]! << 8) | b[p + 1]!;
  }

  int32(): number {
    const p = this.take(4);
    const b = this.buf;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  uint32(): number {
    return this.int32() >>> 0;
  }

  /** DataView over buf, made on first use (V8 is several times faster with it than with Buffer's bigint methods). */
  private dv: DataView | undefined;

  private view64(): DataView {
    return (this.dv ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  int64(): bigint {
    const p = this.take(8);
    return this.view64().getBigInt64(p);
  }

  float64(): number {
    const p = this.take(8);
    return this.view64().getFloat64(p);
  }

  /** 16 bytes → canonical lowercase `8-4-4-4-12` text. */
  uuid(): string {
    const p = this.take(16);
    const b = this.buf;
    return (
      HEX[b[p]!]! + HEX[b[p + 1]!]! + HEX[b[p + 2]!]! + HEX[b[p + 3]!]! + '-' +
      HEX[b[p + 4]!]! + HEX[b[p + 5]!]! + '-' +
      HEX[b[p + 6]!]! + HEX[b[p + 7]!]! + '-' +
      HEX[b[p + 8]!]! + HEX[b[p + 9]!]! + '-' +
      HEX[b[p + 10]!]! + HEX[b[p + 11]!]! + HEX[b[p + 12]!]! + HEX[b[p + 13]!]! + HEX[b[p + 14]!]! + HEX[b[p + 15]!]!
    );
  }

  // ---- varints -----------------------------------------------------------------------------------

  /** Unsigned LEB128, at most 5 bytes; returns 0 … 2^32-1. */
  uvarint(): number {
    const p = this.pos;
    if (p < this.end) {
      const b0 = this.buf[p]!;
      if (b0 < 0x80) {
        this.pos = p + 1;
        return b0;
      }
    }
    return this.uvarintSlow();
  }

  private uvarintSlow(): number {
    const b = this.buf;
    let p = this.pos;
    if (p + 5 <= this.end) {
      // Enough bytes for the longest form: no per-byte bounds checks.
      let byte = b[p++]!;
      let result = byte & 0x7f;
      if (byte >= 0x80) {
        byte = b[p++]!;
        result |= (byte & 0x7f) << 7;
        if (byte >= 0x80) {
          byte = b[p++]!;
          result |= (byte & 0x7f) << 14;
          if (byte >= 0x80) {
            byte = b[p++]!;
            result |= (byte & 0x7f) << 21;
            if (byte >= 0x80) {
              byte = b[p++]!;
              if (byte >= 0x80) throw new DecodeError('unsigned varint longer than 5 bytes');
              if (byte > 0x0f) throw new DecodeError('unsigned varint out of int32 range');
              result += byte * 0x10000000;
            }
          }
        }
      }
      this.pos = p;
      return result;
    }
    const end = this.end;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) throw eof(1, 0);
      const byte = b[p++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.pos = p;
        if (result > 0xffffffff) throw new DecodeError('unsigned varint out of int32 range');
        return result;
      }
    }
    throw new DecodeError('unsigned varint longer than 5 bytes');
  }

  /** Zig-zag signed varint (int32). */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zig-zag signed varlong (int64), at most 10 bytes. */
  varlong(): bigint {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    // Fast path: up to 7 bytes (49 bits) accumulate exactly in a double.
    let lo = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      if (p >= end) throw eof(1, 0);
      const byte = b[p++]!;
      lo += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.pos = p;
        // zig-zag on an exact non-negative integer < 2^49
        return BigInt(lo % 2 === 0 ? lo / 2 : -(lo + 1) / 2);
      }
    }
    let u = BigInt(lo);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      if (p >= end) throw eof(1, 0);
      const byte = b[p++]!;
      u |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = p;
        u = BigInt.asUintN(64, u);
        return (u >> 1n) ^ -(u & 1n);
      }
    }
    throw new DecodeError('varlong longer than 10 bytes');
  }

  // ---- strings -----------------------------------------------------------------------------------

  private utf8(n: number): string {
    if (n > this.end - this.pos) throw eof(n, this.end - this.pos);
    const p = this.pos;
    this.pos = p + n;
    return n === 0 ? '' : this.buf.toString('utf8', p, p + n);
  }

  /** int16 length + UTF-8; null (length -1) is an error. */
  string(): string {
    const n = this.int16();
    if (n < 0) throw new DecodeError(n === -1 ? 'non-nullable string was null' : `bad string length ${n}`);
    return this.utf8(n);
  }

  nullableString(): string | null {
    const n = this.int16();
    if (n < 0) {
      if (n === -1) return null;
      throw new DecodeError(`bad string length ${n}`);
    }
    return this.utf8(n);
  }

  /** uvarint length+1 + UTF-8; null (0) is an error. */
  compactString(): string {
    const n = this.uvarint() - 1;
    if (n < 0) throw new DecodeError('non-nullable compact string was null');
    return this.utf8(n);
  }

  compactNullableString(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.utf8(n);
  }

  // ---- bytes (views) -----------------------------------------------------------------------------

  private view(n: number): Buffer {
    if (n > this.end - this.pos) throw eof(n, this.end - this.pos);
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** int32 length + bytes, as a view; null is an error. */
  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) throw new DecodeError(n === -1 ? 'non-nullable bytes were null' : `bad bytes length ${n}`);
    return this.view(n);
  }

  nullableBytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) {
      if (n === -1) return null;
      throw new DecodeError(`bad bytes length ${n}`);
    }
    return this.view(n);
  }

  compactBytes(): Buffer {
    const n = this.uvarint() - 1;
    if (n < 0) throw new DecodeError('non-nullable compact bytes were null');
    return this.view(n);
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.view(n);
  }

  /** `n` raw bytes as a view (no length prefix). */
  raw(n: number): Buffer {
    if (n < 0) throw new DecodeError(`negative length ${n}`);
    return this.view(n);
  }

  // ---- arrays ------------------------------------------------------------------------------------

  /**
   * int32 element count; -1 (null) is returned as -1. Throws when the count cannot fit in the remaining
   * bytes, given that every element takes at least `minElemSize` bytes (the generator passes the real
   * minimum; 1 is a safe lower bound for anything but zero-width structs).
   */
  arrayLength(minElemSize = 1): number {
    const n = this.int32();
    if (n < 0) {
      if (n === -1) return -1;
      throw new DecodeError(`bad array length ${n}`);
    }
    if (n * minElemSize > this.end - this.pos) {
      throw new DecodeError(`array of ${n} elements does not fit in ${this.end - this.pos} bytes`);
    }
    return n;
  }

  /** uvarint count+1; 0 (null) is returned as -1. Same validation as arrayLength. */
  compactArrayLength(minElemSize = 1): number {
    const n = this.uvarint() - 1;
    if (n > 0 && n * minElemSize > this.end - this.pos) {
      throw new DecodeError(`array of ${n} elements does not fit in ${this.end - this.pos} bytes`);
    }
    return n;
  }

  // ---- tagged fields -----------------------------------------------------------------------------

  /**
   * Reads one tagged field's size and returns the position where its value ends; the caller reads
   * the value (or not) and then calls tagDone(end). Used by generated code:
   * `for (let n = r.uvarint(); n > 0; n--) { const tag = r.uvarint(); const end = r.tagEnd(); …; r.tagDone(end) }`
   */
  tagEnd(): number {
    const size = this.uvarint();
    if (size > this.end - this.pos) throw eof(size, this.end - this.pos);
    return this.pos + size;
  }

  /** Ends a tagged field: a value that overran its declared size is an error; unread bytes are skipped. */
  tagDone(end: number): void {
    if (this.pos > end) throw new DecodeError('tagged field value overran its size');
    this.pos = end;
  }

  /** Skips a whole tagged-field section (count, then tag/size/value triples). */
  skipTaggedFields(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.pos = this.tagEnd();
    }
  }

  /** Reads a whole tagged-field section into tag → raw value (views). */
  readTaggedFields(): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    for (let n = this.uvarint(); n > 0; n--) {
      const tag = this.uvarint();
      const end = this.tagEnd();
      out.set(tag, this.buf.subarray(this.pos, end));
      this.pos = end;
    }
    return out;
  }
}

function eof(wanted: number, have: number): DecodeError {
  return new DecodeError(`truncated input: need ${wanted} bytes, ${have} left`);
}
