/** Storage's error map: which Kafka error each backend failure becomes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinatorError } from '../../src/coordinator/coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { toKafkaError } from '../../src/storage/storage-error.ts';

test('an unknown commit outcome is REQUEST_TIMED_OUT, even for a coordinator error; other failures KAFKA_STORAGE_ERROR', () => {
  const down = new Error('connect ECONNREFUSED');
  assert.equal(toKafkaError('commit', down).errorCode, ErrorCode.REQUEST_TIMED_OUT);
  assert.equal(toKafkaError('commit', new CoordinatorError(ErrorCode.INVALID_REQUEST, 'x')).errorCode, ErrorCode.REQUEST_TIMED_OUT);
  for (const failure of ['object-store', 'coordinator', 'disk'] as const) {
    const e = toKafkaError(failure, down);
    assert.equal(e.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, failure);
    assert.match(e.errorMessage, /ECONNREFUSED/);
  }
});

test('a coordinator error outside a commit keeps its own Kafka code', () => {
  const e = toKafkaError('coordinator', new CoordinatorError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such partition'));
  assert.deepEqual(e, { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'no such partition' });
});
