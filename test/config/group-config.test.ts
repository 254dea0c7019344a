/**
 * share.auto.offset.reset parsed as Kafka 4.2's ShareGroupAutoOffsetResetStrategy.fromString (its test's
 * cases) over java.time.Duration.parse's grammar: signs, fractions, case, and the values Java refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIsoDuration, parseShareAutoOffsetReset } from '../../src/config/group-config.ts';

test('parseShareAutoOffsetReset: Kafka\'s accepted and refused values', () => {
  assert.deepEqual(parseShareAutoOffsetReset('earliest'), { type: 'earliest' });
  assert.deepEqual(parseShareAutoOffsetReset('latest'), { type: 'latest' });
  assert.deepEqual(parseShareAutoOffsetReset('by_duration:PT1H'), { type: 'by_duration', durationMs: 3_600_000 });
  assert.deepEqual(parseShareAutoOffsetReset('by_duration:P2D'), { type: 'by_duration', durationMs: 172_800_000 });
  for (const v of ['invalid', 'by_duration:invalid', 'by_duration:-PT1H', 'by_duration:', 'by_duration', 'LATEST', 'EARLIEST', 'NONE', 'none', '', 'By_Duration:PT1H']) {
    assert.equal(parseShareAutoOffsetReset(v), null, v);
  }
});

test('parseIsoDuration: java.time.Duration.parse', () => {
  const s = (n: number) => BigInt(n) * 1_000_000_000n;
  const cases: [string, bigint | null][] = [
    ['PT1H', s(3600)], ['pt1h', s(3600)], ['P1DT2H30M', s(86400 + 2 * 3600 + 1800)], ['PT0S', 0n], ['PT1.5S', 1_500_000_000n], ['PT1,5S', 1_500_000_000n],
    ['PT1.S', s(1)], ['PT-0.5S', -500_000_000n], ['-PT1H', -s(3600)], ['P-1D', -s(86400)], ['-P-1D', s(86400)], ['+PT+1M', s(60)], ['PT1H-30M', s(1800)],
    ['P', null], ['PT', null], ['P1DT', null], ['1H', null], ['P1H', null], ['PT1D', null], ['PT1M1H', null], ['PT0.1234567891S', null], ['P 1D', null],
    ['P106751991167301D', null], ['PT9223372036854775807S', s(0) + 9_223_372_036_854_775_807n * 1_000_000_000n], ['PT9223372036854775808S', null],
  ];
  for (const [text, nanos] of cases) assert.equal(parseIsoDuration(text), nanos, text);
});
