/**
 * ThreadedKafkaServer with a test dispatcher: frames cut by the network thread reach the main thread whole and
 * in order (also when a client writes them byte by byte), responses go back in request order, and a network
 * thread that fails closes its connections and is reported (the broker then shuts down cleanly).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Connection, Dispatcher } from '../../src/network/connection.ts';
import { NETWORK_THREAD_SOURCE } from '../../src/network/network-thread-source.ts';
import { ThreadedKafkaServer } from '../../src/network/threaded-server.ts';
import { sizePrefixed } from '../helpers/size-prefixed.ts';

/** Echoes each frame's body back as the response, after a delay that reverses the order of completion. */
const echo: Dispatcher = {
  paused: false,
  whenResumed: () => Promise.resolve(),
  async dispatch(_conn: Connection, frame: Buffer) {
    await new Promise((r) => setTimeout(r, 40 - Math.min(frame.length, 40)));
    return [sizePrefixed(frame)];
  },
};

function readFrames(s: Socket, n: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let pending = Buffer.alloc(0);
    const out: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = pending.readInt32BE(0);
        out.push(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
      }
      if (out.length === n) resolve(out);
    });
    s.on('error', reject);
  });
}

const limits = { host: '127.0.0.1', port: 0, socketRequestMaxBytes: 1 << 20, connectionsMaxIdleMs: 60_000, maxInFlightRequests: 100 };

test('frames reach the main thread whole, responses return in request order, over two threads', async () => {
  const server = new ThreadedKafkaServer(echo, { ...limits, threads: 2, onFatal: (r) => assert.fail(r) });
  const port = await server.listen();
  try {
    const bodies = [Buffer.alloc(8, 1), Buffer.alloc(300_000, 2), Buffer.alloc(20, 3), Buffer.from('abcdefgh')];
    for (const byteByByte of [false, true]) {
      const s = connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      const got = readFrames(s, bodies.length);
      const bytes = Buffer.concat(bodies.map(sizePrefixed));
      if (byteByByte) for (let i = 0; i < 64; i++) s.write(bytes.subarray(i, i + 1));
      s.write(byteByByte ? bytes.subarray(64) : bytes);
      assert.deepEqual(await got, bodies);
      s.destroy();
    }
  } finally {
    await server.close();
  }
});

test('a network thread that fails closes its connections and is reported', async () => {
  // The thread fails right after it writes its first response.
  const failing = `${NETWORK_THREAD_SOURCE}\nparentPort.on('message', (m) => { if (m.t === 'write') setImmediate(() => { throw new Error('network thread failure (test)'); }); });`;
  let fatal: string | null = null;
  let closedConnections = 0;
  let onFatal!: () => void;
  const reported = new Promise<void>((resolve) => { onFatal = resolve; });
  const server = new ThreadedKafkaServer(echo, {
    ...limits, threads: 1, threadSource: failing,
    onFatal: (reason) => { fatal = reason; onFatal(); },
    onConnectionClosed: () => { closedConnections++; },
  });
  const port = await server.listen();
  const s = connect(port, '127.0.0.1');
  const got = readFrames(s, 1);
  const clientClosed = new Promise((r) => s.on('close', r));
  s.write(sizePrefixed(Buffer.from('hello-world')));
  assert.deepEqual(await got, [Buffer.from('hello-world')], 'the response written before the failure arrives');
  await reported;
  await clientClosed;
  assert.match(fatal!, /network thread failure \(test\)/);
  assert.equal(closedConnections, 1);
  assert.equal(server.connections.size, 0);
  await server.close();
});
