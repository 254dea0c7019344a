/** crc32cCombine: the CRC-32C of a concatenation from its parts' CRCs, checked against the native CRC of the whole. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { crc32cCombine } from '../../src/protocol/crc32c-combine.ts';

test('combining the CRCs of two parts gives the CRC of both, for lengths around every power of two', () => {
  const lengths = [0, 1, 2, 3, 7, 8, 21, 61, 1000];
  for (let bit = 4; bit <= 22; bit++) lengths.push(2 ** bit - 1, 2 ** bit, 2 ** bit + 1);
  const a = randomBytes(300);
  for (const n of lengths) {
    const b = randomBytes(n);
    assert.equal(crc32cCombine(crc32c(a), crc32c(b), n), crc32c(Buffer.concat([a, b])), `length ${n}`);
  }
});

test('an object of many batches: header CRCs continued natively, bodies combined from their CRCs', () => {
  const parts = Array.from({ length: 50 }, (_, i) => randomBytes(21 + ((i * 7919) % 200_000)));
  let crc = 0;
  for (const p of parts) {
    crc = crc32c(p.subarray(0, 21), crc);
    crc = crc32cCombine(crc, crc32c(p.subarray(21)), p.length - 21);
  }
  assert.equal(crc, crc32c(Buffer.concat(parts)));
  assert.equal(crc32cCombine(0, 0, 0), 0, 'the empty concatenation');
});

test('lengths past 2^32 (beyond 32-bit arithmetic) compose: shifting by 2^32 twice is shifting by 2^33', () => {
  // Combining with a part whose CRC is 0 only shifts crcA by the part's length; shifts must add up.
  const a = crc32c(Buffer.from('123456789'));
  assert.equal(a, 0xe3069283, 'the CRC-32C check value');
  assert.equal(crc32cCombine(crc32cCombine(a, 0, 2 ** 32), 0, 2 ** 32), crc32cCombine(a, 0, 2 ** 33));
  assert.equal(crc32cCombine(crc32cCombine(a, 0, 2 ** 31 + 5), 0, 2 ** 31 - 5), crc32cCombine(a, 0, 2 ** 32));
  assert.notEqual(crc32cCombine(a, 0, 2 ** 32), crc32cCombine(a, 0, 2 ** 33));
});
