/**
 * Connection behaviour: idle reaping (connections.max.idle.ms) and responses in request order when later
 * requests finish first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { fetchRequest } from '../helpers/fetch.ts';
import { createTopic } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

test('an idle connection is closed after connections.max.idle.ms; an active one is not', async () => {
  const broker = await startTestBroker({ 'connections.max.idle.ms': 400 });
  const idle = await RawClient.connect(broker.port);
  const active = await RawClient.connect(broker.port);
  const start = Date.now();
  for (let i = 0; i < 6; i++) {
    await sleep(150);
    await active.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'floe-test', clientSoftwareVersion: '1' });
  }
  assert.equal(idle.closed, true, 'the idle connection was reaped');
  assert.ok(Date.now() - start >= 400);
  assert.equal(active.closed, false, 'the active connection survives');
  active.close();
});

test('a slow request (long poll) does not let a later fast request overtake its response', async () => {
  const broker = await startTestBroker();
  const c = await RawClient.connect(broker.port);
  await createTopic(c, 'order');
  c.write(RawClient.frame(ApiKey.Fetch, 11, fetchRequest([{ topic: 'order', partition: 0, offset: 0n }], { maxWaitMs: 500, minBytes: 1 }), 100));
  c.write(RawClient.frame(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }, 101));
  const start = Date.now();
  const first = await c.readResponse(ApiKey.Fetch, 11, 100);
  assert.ok(Date.now() - start >= 450, 'the fetch waited for max.wait.ms');
  assert.equal(first.responses[0].partitions[0].errorCode, 0);
  const second = await c.readResponse(ApiKey.ApiVersions, 3, 101);
  assert.equal(second.errorCode, 0);
  c.close();
});
