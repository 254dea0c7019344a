/**
 * CRC-32C of a concatenation from the CRCs of its parts (zlib's crc32_combine, for the Castagnoli polynomial):
 * crc(A ‖ B) = crc32cCombine(crc(A), crc(B), B.length). An object of record batches gets its CRC-32C (the S3 PUT
 * checksum) from the batches' own CRCs, already checked on produce, instead of a second pass over its bytes.
 * Arithmetic in GF(2) modulo the reflected polynomial; ≈ 30 multiplications of 32 steps per combine.
 */

/** CRC-32C's polynomial, reflected. */
const POLY = 0x82f63b78;

/** a(x)·b(x) mod p(x), both reflected (x^0 is the top bit). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/**
 * X2N[k] = x^(2^k) mod p(x), for every k a safe-integer byte length needs (k = 3 + up to 53 bits). Not taken
 * modulo 32 as zlib does for its own polynomial: CRC-32C's polynomial is not irreducible, so x^(2^32) ≠ x here.
 */
const X2N = new Uint32Array(64);
{
  let p = 1 << 30; // x^1
  X2N[0] = p;
  for (let k = 1; k < 64; k++) X2N[k] = p = multModP(p, p);
}

/** x^(n·2^k) mod p(x). */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n !== 0) {
    if (n % 2 === 1) p = multModP(X2N[k]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32C of A ‖ B from crcA, crcB and B's length (any safe integer). */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA) ^ crcB) >>> 0;
}
