/**
 * An S3-compatible store over HTTPS with a private CA (MinIO, Ceph and most on-premises stores run so), in a
 * broker process started as users start it: the lean GET/PUT path (node:https, s3-signed-http.ts) and the
 * SDK's own requests (List, DeleteObjects) go through TLS to a checking proxy in front of s3rver, trusting the
 * CA that `NODE_EXTRA_CA_CERTS` names. Without that CA the broker refuses to acknowledge anything and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { spawnBroker } from '../helpers/broker.ts';
import { makeCerts } from '../helpers/certs.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { s3CheckingProxy } from '../helpers/s3-checking-proxy.ts';
import { freshBucket, s3Overrides, sharedS3 } from '../helpers/s3.ts';
import { waitFor } from '../helpers/wait.ts';

test('a broker stores and reads diskless records through an HTTPS endpoint signed by a CA it is told to trust', async () => {
  const certs = await makeCerts();
  const server = await sharedS3();
  const proxy = await s3CheckingProxy(server, server.secretAccessKey, { key: await readFile(certs.brokerKey, 'utf8'), cert: await readFile(certs.brokerCert, 'utf8') });
  assert.match(proxy.endpoint, /^https:/);
  const bucket = await freshBucket();
  const overrides = { ...s3Overrides(server, bucket), 'diskless.s3.endpoint': proxy.endpoint, 'diskless.commit.interval.ms': 50 };
  const dir = await tempDir();
  const env = { NODE_EXTRA_CA_CERTS: certs.ca };

  const first = await spawnBroker(dir, overrides, 0, env);
  const lines = Array.from({ length: 300 }, (_, i) => `k${i % 7}:value-${i}-${'x'.repeat(i % 50)}`);
  await kcatProduce(first.bootstrap, 'tls-topic', lines);
  const puts = proxy.seen.filter((r) => r.method === 'PUT' && r.status === 200);
  assert.ok(puts.length >= 1, `objects uploaded over HTTPS (${puts.length} PUTs)`);
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);

  // A fresh process has no cached objects: every record below came back through a ranged GET over TLS.
  const getsBefore = proxy.seen.filter((r) => r.method === 'GET' && r.url.includes(bucket)).length;
  const second = await spawnBroker(dir, overrides, 0, env);
  const read = await kcatConsume(second.bootstrap, 'tls-topic', '%k:%s\\n');
  assert.deepEqual(read.sort(), [...lines].sort(), 'every acknowledged record read back');
  const gets = proxy.seen.filter((r) => r.method === 'GET' && r.url.includes(bucket) && (r.status === 200 || r.status === 206));
  assert.ok(gets.length > getsBefore, `objects read over HTTPS (${gets.length - getsBefore} GETs)`);
  const refused = proxy.seen.filter((r) => r.status >= 400);
  assert.deepEqual(refused, [], 'the proxy checked every request (signature, time, checksums) and refused none');
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});

test('without the CA, nothing is acknowledged and the broker says the certificate is not trusted', async () => {
  const certs = await makeCerts();
  const server = await sharedS3();
  const proxy = await s3CheckingProxy(server, server.secretAccessKey, { key: await readFile(certs.brokerKey, 'utf8'), cert: await readFile(certs.brokerCert, 'utf8') });
  const bucket = await freshBucket();
  const overrides = { ...s3Overrides(server, bucket), 'diskless.s3.endpoint': proxy.endpoint, 'diskless.commit.interval.ms': 50, 'diskless.s3.max.attempts': 1 };
  let broker;
  try {
    broker = await spawnBroker(await tempDir(), overrides, 0, { NODE_EXTRA_CA_CERTS: '' });
  } catch (err) {
    // Refusing to start is a fine answer too, if it names the cause.
    assert.match(String(err), /certificate/i);
    return;
  }
  // kcat gives up on the record after its message timeout; its delivery report names the broker's error.
  const err = await kcatProduce(broker.bootstrap, 'untrusted', ['k:v'], ['-X', 'message.timeout.ms=8000'])
    .then(() => 'exit 0', (e: { stderr?: string; message: string }) => `${e.message}\n${e.stderr ?? ''}`);
  assert.match(err, /Delivery failed/, 'the record was not acknowledged');
  await waitFor('the broker log names the certificate problem', () => /certificate/i.test(broker.output()), { timeoutMs: 20_000 });
  assert.equal(proxy.seen.length, 0, 'no request got past the TLS handshake');
  broker.child.kill('SIGTERM');
  await broker.exited;
});
