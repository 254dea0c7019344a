/**
 * queued.max.request.bytes with network threads, over real sockets (ThreadedKafkaServer with a test
 * dispatcher that holds requests until told): the threads reserve each frame from the shared count before
 * its body, so a flood is held one bound at a time and counted once; and the count returns to 0 after
 * floods, disconnects in the middle of a frame (reserved or waiting for memory), invalid sizes,
 * closeAfterResponses with frames behind it, and a shutdown with requests in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Connection, Dispatcher } from '../../src/network/connection.ts';
import { RequestMemoryPool } from '../../src/network/request-memory-pool.ts';
import { ThreadedKafkaServer } from '../../src/network/threaded-server.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { sizePrefixed } from '../helpers/size-prefixed.ts';

const BODY = 64 * 1024;
const FRAME = 4 + BODY;
const BOUND = 4 * FRAME;

/** Holds every request until `open()`; a body starting with 'C' asks for closeAfterResponses. */
class GatedDispatcher implements Dispatcher {
  readonly paused = false;
  held = 0;
  answered = 0;
  private gate!: Promise<void>;
  open!: () => void;

  constructor() {
    this.close();
  }

  close(): void {
    this.gate = new Promise((resolve) => { this.open = resolve; });
  }

  whenResumed(): Promise<void> {
    return Promise.resolve();
  }

  async dispatch(conn: Connection, frame: Buffer): Promise<Buffer[]> {
    this.held++;
    if (frame[0] === 0x43) conn.closeAfterResponses('closed after responses (test)');
    await this.gate;
    this.held--;
    this.answered++;
    const out = Buffer.alloc(12);
    out.writeInt32BE(8, 0);
    return [out];
  }
}

interface Client {
  write(b: Buffer): void;
  destroy(): void;
  /** Responses read so far. */
  responses(): number;
  gone: Promise<void>;
}

async function client(port: number): Promise<Client> {
  const s: Socket = connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  let bytes = 0;
  s.on('data', (d: Buffer) => { bytes += d.length; });
  s.on('error', () => {});
  const gone = new Promise<void>((r) => s.once('close', () => r()));
  return { write: (b) => void s.write(b), destroy: () => void s.destroy(), responses: () => Math.floor(bytes / 12), gone };
}

interface Ctx { port: number; pool: RequestMemoryPool; d: GatedDispatcher; closes: string[]; shutdown: (graceMs: number) => Promise<void> }

async function withServer(run: (ctx: Ctx) => Promise<void>): Promise<void> {
  const pool = new RequestMemoryPool(BOUND);
  const d = new GatedDispatcher();
  const closes: string[] = [];
  const server = new ThreadedKafkaServer(d, {
    host: '127.0.0.1', port: 0, socketRequestMaxBytes: 1 << 20, connectionsMaxIdleMs: 60_000, maxInFlightRequests: 1000,
    requestMemory: pool, threads: 2, onFatal: (r) => assert.fail(r), onConnectionClosed: (_c, reason) => closes.push(reason),
  });
  const port = await server.listen();
  let closed = false;
  try {
    await run({ port, pool, d, closes, shutdown: async (graceMs) => { closed = true; await server.close(graceMs); } });
  } finally {
    d.open();
    if (!closed) await server.close();
  }
  await waitFor('the request memory back to 0', () => pool.usedBytes === 0, { timeoutMs: 20_000 });
}

test('a flood over two network threads is held one bound at a time, counted once, and given back', { timeout: 60_000 }, async () => {
  await withServer(async ({ port, pool, d }) => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => client(port)));
    for (const c of clients) c.write(Buffer.concat(Array.from({ length: 8 }, () => sizePrefixed(Buffer.alloc(BODY, 1)))));
    // The threads stop reading once the bound is reached; what the main thread holds is what is counted.
    await waitFor('the bound reached by requests the main thread holds', () => pool.usedBytes >= BOUND && pool.usedBytes === d.held * FRAME, { timeoutMs: 20_000 });
    assert.ok(d.held * FRAME <= BOUND + FRAME, `held ${d.held} requests of ${FRAME} bytes under a bound of ${BOUND}: at most one past it`);
    assert.ok(d.held < 64, 'the flood is not read at once');
    d.open();
    await waitFor('every request answered', () => clients.every((c) => c.responses() === 8), { timeoutMs: 30_000 });
    assert.equal(d.answered, 64);
    await waitFor('the request memory back to 0', () => pool.usedBytes === 0);
    for (const c of clients) c.destroy();
  });
});

test('disconnects in the middle of a frame, reserved or waiting for memory, give their reservations back', { timeout: 60_000 }, async () => {
  await withServer(async ({ port, pool, d }) => {
    // Header and a part of the body: the thread reserved the whole frame; the client goes away.
    const partial = await client(port);
    partial.write(sizePrefixed(Buffer.alloc(BODY, 1)).subarray(0, 1000));
    await waitFor('the partial frame reserved', () => pool.usedBytes === FRAME);
    partial.destroy();
    await waitFor('the partial frame given back', () => pool.usedBytes === 0);

    // The pool full of held requests; another client's frame waits for memory, then goes away.
    const filler = await client(port);
    filler.write(Buffer.concat(Array.from({ length: 6 }, () => sizePrefixed(Buffer.alloc(BODY, 1)))));
    await waitFor('the bound reached', () => pool.usedBytes >= BOUND && pool.usedBytes === d.held * FRAME);
    const held = pool.usedBytes;
    const waiting = await client(port);
    waiting.write(sizePrefixed(Buffer.alloc(BODY, 2)).subarray(0, 30_000));
    await sleep(300); // time for the thread to read the header and find the pool full (the wait under test)
    waiting.destroy();
    await waiting.gone;
    assert.equal(pool.usedBytes, held, 'the waiting frame reserved nothing');
    d.open();
    await waitFor('the held requests answered', () => filler.responses() === 6, { timeoutMs: 20_000 });
    await waitFor('the request memory back to 0', () => pool.usedBytes === 0);

    // The pool works after all that.
    const after = await client(port);
    after.write(sizePrefixed(Buffer.alloc(BODY, 3)));
    await waitFor('a new request answered', () => after.responses() === 1);
    after.destroy();
    filler.destroy();
  });
});

test('invalid sizes close the connection with Kafka\'s reason, and the frames before them are given back', { timeout: 60_000 }, async () => {
  for (const size of [-1, 4, (1 << 20) + 1]) {
    await withServer(async ({ port, pool, closes }) => {
      const c = await client(port);
      const bad = Buffer.alloc(12);
      bad.writeInt32BE(size, 0);
      // Two valid frames held by the dispatcher, then the invalid size (and some bytes after it).
      c.write(Buffer.concat([sizePrefixed(Buffer.alloc(BODY, 1)), sizePrefixed(Buffer.alloc(BODY, 1)), bad]));
      await c.gone;
      await waitFor('the connection closed on the main thread', () => closes.length === 1);
      assert.match(closes[0]!, new RegExp(`^invalid request size ${size} \\(socket.request.max.bytes=${1 << 20}\\)$`));
    });
    // withServer checked that the count returned to 0 once the held requests finished.
  }
});

test('closeAfterResponses with frames read behind it, and a shutdown with requests in flight, give everything back', { timeout: 60_000 }, async () => {
  await withServer(async ({ port, pool, d, closes }) => {
    const c = await client(port);
    c.write(Buffer.concat([sizePrefixed(Buffer.alloc(BODY, 0x43)), ...Array.from({ length: 3 }, () => sizePrefixed(Buffer.alloc(BODY, 1)))]));
    await waitFor('the closing request held', () => d.held === 1);
    d.open();
    await c.gone;
    assert.equal(c.responses(), 1, 'the response to the request read before closeAfterResponses');
    await waitFor('closed', () => closes.includes('closed after responses (test)'));
    await waitFor('the request memory back to 0', () => pool.usedBytes === 0);
  });

  await withServer(async ({ port, pool, d, shutdown }) => {
    // A frame half read (reserved in its thread), requests held, a frame waiting for memory.
    const partial = await client(port);
    partial.write(sizePrefixed(Buffer.alloc(BODY, 1)).subarray(0, 1000));
    await waitFor('the partial frame reserved', () => pool.usedBytes === FRAME);
    const held = await client(port);
    held.write(Buffer.concat(Array.from({ length: 6 }, () => sizePrefixed(Buffer.alloc(BODY, 1)))));
    await waitFor('the bound reached', () => pool.usedBytes >= BOUND && d.held > 0);
    // The shutdown gives up on the requests held past its grace; they finish afterwards.
    await shutdown(300);
    await held.gone;
    await partial.gone;
    d.open();
  });
});
