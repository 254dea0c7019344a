/**
 * Log lines of errors: an error that quotes its cause's message says it once; one that does not still gets
 * the cause's message appended (pino's rule), and the stack keeps every cause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serializeError } from '../../src/observability/log.ts';
import { ObjectStoreError } from '../../src/objectstore/object-store.ts';

test('an error quoting its cause logs the cause message once, with the cause in the stack', () => {
  const cause = new Error('unable to verify the first certificate');
  const err = new ObjectStoreError(`object store put wal/x failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE: ${cause.message}`, true, undefined, 'Error', { cause });
  const out = serializeError(err);
  assert.equal(out.message, err.message);
  assert.equal(out.message.split(cause.message).length - 1, 1);
  assert.match(out.stack, /caused by: Error: unable to verify the first certificate/);
});

test('an error not quoting its cause still shows the cause message', () => {
  const err = new Error('commit failed', { cause: new Error('connection reset') });
  assert.equal(serializeError(err).message, 'commit failed: connection reset');
  assert.equal(serializeError(new Error('plain')).message, 'plain');
});
