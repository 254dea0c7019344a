/**
 * The program each network thread runs (num.network.threads > 0; threaded-server.ts starts them). It owns
 * its sockets: it accepts connections on the listener's socket (the first thread binds it, the others accept
 * on the same file descriptor, so the kernel spreads connections over the threads), reads them, cuts the
 * byte stream into whole frames, and hands them to the main thread in transferred ArrayBuffers of whole,
 * size-prefixed frames (the main thread takes views of them). It writes the responses the main thread sends,
 * and pauses or resumes reading when told to.
 *
 * Direct reads, with the main thread's class (direct-reads.ts, its text written in here): headers and small
 * requests are read into one 64 KiB scratch buffer per thread, and the whole frames of a read are copied out
 * of it together into one ArrayBuffer; once a frame's size is known and reserved and it is not all in, it
 * gets an ArrayBuffer of its own, which the kernel reads the rest of it into and which is transferred as it
 * is. So a large request is not copied at all on its way to the main thread, and the thread makes no 64 KiB
 * chunk per socket read, whose garbage it held until its own GC ran (measured: +40-90 MiB of peak RSS in a
 * flood of 16 MiB requests).
 *
 * queued.max.request.bytes: each frame's 4 + size is reserved from the broker's shared request memory
 * (workerData.requestMemory, request-memory-pool.ts's cells) as soon as its size header is read, before its
 * body; while the pool is at its bound the socket pauses and waits (Atomics.waitAsync) for a release. The
 * main thread releases a frame once answered; the thread gives back the frame it was reading when its socket
 * closes or the thread ends. A size the main thread refuses (below 8 or above socket.request.max.bytes) is
 * passed on unpaid with everything after it: the main thread closes the connection with Kafka's reason.
 *
 * Kept as plain JavaScript in a string, run with `new Worker(source, { eval: true })`: the same text runs
 * from the TypeScript sources (tsx) and from the single-file bundle, and a worker cannot load either of those
 * module graphs by path. It depends on node built-ins only (DirectReads and its scratch buffer's size are
 * written into the text from direct-reads.ts) and holds no broker state.
 *
 * Messages to the main thread: listening {port, fd}; open {id, remoteAddress, remotePort}; frames {id, ab,
 * paid: the bytes of its whole frames reserved};
 * full {id} / drain {id} (the socket's write buffer); close {id, reason}.
 * Messages from it: write {id, ab}; pause/resume/end/destroy {id}; stop (close the listener); exit (end the
 * thread, once the messages before it are handled).
 */
import { DIRECT_READS_SCRATCH_BYTES, DirectReads } from './direct-reads.ts';

export const NETWORK_THREAD_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const maxFrame = workerData.socketRequestMaxBytes;
// queued.max.request.bytes, shared with the main thread and the other threads (request-memory-pool.ts has the
// same rules on the same cells: BigInt64 bytes in use at [0, 8), Int32 generation at [8, 12)).
const memMax = BigInt(workerData.requestMemoryMaxBytes);
const memUsed = new BigInt64Array(workerData.requestMemory, 0, 1);
const memGeneration = new Int32Array(workerData.requestMemory);
const GENERATION = 2;
const conns = new Map();
let nextId = 1;

function tryReserve(bytes) {
  const n = BigInt(bytes);
  if (memMax < 0n) { Atomics.add(memUsed, 0, n); return true; }
  for (;;) {
    const old = Atomics.load(memUsed, 0);
    if (old >= memMax) return false;
    if (Atomics.compareExchange(memUsed, 0, old, old + n) === old) return true;
  }
}

function release(bytes) {
  if (bytes === 0) return;
  const old = Atomics.sub(memUsed, 0, BigInt(bytes));
  if (memMax >= 0n && old >= memMax && old - BigInt(bytes) < memMax) {
    Atomics.add(memGeneration, GENERATION, 1);
    Atomics.notify(memGeneration, GENERATION);
  }
}

/** Calls wake() once the pool is below its bound. */
function whenAvailable(wake) {
  const seen = Atomics.load(memGeneration, GENERATION);
  if (Atomics.load(memUsed, 0) < memMax) { wake(); return; }
  const wait = Atomics.waitAsync(memGeneration, GENERATION, seen);
  if (wait.async) wait.value.then(() => whenAvailable(wake));
  else whenAvailable(wake);
}

// direct-reads.ts's class. __name: the no-op that tsx's transform of the sources wraps class names in (the
// bundle's text has none).
const __name = (target) => target;
const DirectReads = ${DirectReads.toString()};

// Headers and small requests are read here by every socket of this thread (each read is handled before the
// next one of any socket, and what is left of it is copied out).
const scratch = Buffer.allocUnsafeSlow(${DIRECT_READS_SCRATCH_BYTES});
// A frame read into its own buffer owns its ArrayBuffer, which is transferred to the main thread as it is.
const allocateFrame = (bytes) => Buffer.from(new ArrayBuffer(bytes));

// Accepted paused, then moved to a socket that reads into the buffers its DirectReads hands out (net.Server has
// no onread option for the sockets it accepts; server.ts does the same on the main thread).
const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
  const id = nextId++;
  // reserved: bytes reserved for the frame being read (0: none yet). invalid: a size the main thread refuses
  // was read; the rest of the stream goes to it unpaid, and it closes the connection. reads: the socket's
  // DirectReads (null: its 'data' path); wholeFrame: where they put a frame read whole into its own buffer.
  const c = { socket: accepted, reads: null, wholeFrame: null, pending: [], pendingBytes: 0, scanned: 0, paid: 0, reserved: 0, invalid: false, pausedByMain: false, waitingForMemory: false, closed: false, error: null };
  const handle = accepted._handle;
  if (handle) {
    accepted._handle = null;
    accepted.destroy();
    const reads = new DirectReads(scratch, allocateFrame);
    c.reads = reads;
    // Reserved since its size was read: handed over as it is.
    c.wholeFrame = (frame) => {
      const paid = c.reserved;
      c.reserved = 0;
      parentPort.postMessage({ t: 'frames', id, ab: frame.buffer, paid }, [frame.buffer]);
    };
    c.socket = new net.Socket({ handle, pauseOnCreate: true, onread: {
      buffer: () => reads.nextBuffer(),
      callback: (bytes, into) => { onDirectRead(id, c, bytes, into); return true; },
    } });
  } else {
    // No handle to move (a Node whose sockets keep it elsewhere): this socket's own 'data' path.
    accepted.on('data', (chunk) => onData(id, c, chunk));
  }
  const socket = c.socket;
  conns.set(id, c);
  socket.setNoDelay(true);
  parentPort.postMessage({ t: 'open', id, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
  socket.on('drain', () => parentPort.postMessage({ t: 'drain', id }));
  socket.on('error', (err) => { c.error = err.message; });
  socket.on('close', () => {
    conns.delete(id);
    forget(c);
    parentPort.postMessage({ t: 'close', id, reason: c.error ? 'socket error: ' + c.error : 'closed by peer' });
  });
  socket.resume();
});

/** The socket is gone: what it holds and has not handed over is given back. */
function forget(c) {
  c.closed = true;
  release(c.reserved);
  c.reserved = 0;
  if (c.reads !== null) c.reads.drop();
  c.pending = [];
  c.pendingBytes = 0;
  c.scanned = 0;
}

/** The int32 at byte pos of the pending chunks. */
function readSize(c, pos) {
  let i = 0;
  while (pos >= c.pending[i].length) pos -= c.pending[i++].length;
  const first = c.pending[i];
  if (pos + 4 <= first.length) return first.readInt32BE(pos);
  const b = Buffer.allocUnsafe(4);
  for (let k = 0; k < 4; k++) {
    while (pos >= c.pending[i].length) { pos -= c.pending[i++].length; }
    b[k] = c.pending[i][pos++];
  }
  return b.readInt32BE(0);
}

function onData(id, c, chunk) {
  if (c.closed) return;
  c.pending.push(chunk);
  c.pendingBytes += chunk.length;
  cut(id, c);
}

/** Direct reads: bytes were read into the start of into (what the socket's DirectReads handed out). */
function onDirectRead(id, c, bytes, into) {
  if (c.closed) return;
  const rest = c.reads.take(bytes, into, c.wholeFrame);
  if (rest !== null) {
    c.pending.push(rest);
    c.pendingBytes += rest.length;
  }
  // Part of a frame read into its own buffer: nothing to cut yet.
  if (c.pendingBytes === 0) return;
  cut(id, c);
  keepOwned(c);
}

/** Direct reads, after cut(): what is left is moved or copied out of the scratch buffer (DirectReads.keepOwned). */
function keepOwned(c) {
  if (c.reads === null || c.closed || c.pending.length === 0) return;
  if (c.reads.keepOwned(c.pending, c.pendingBytes, c.invalid ? 0 : c.reserved)) {
    c.pending = [];
    c.pendingBytes = 0;
  }
}

/**
 * Hands the whole frames at the front to the main thread, each paid for in the request memory: a frame's
 * 4 + size is reserved once its size header is read, before its body; while the pool is at its bound the
 * socket pauses until a release. A size the main thread will refuse is passed on unpaid, as is everything
 * after it (the main thread closes the connection with Kafka's reason).
 */
function cut(id, c) {
  while (!c.invalid && !c.waitingForMemory && c.pendingBytes - c.scanned >= 4) {
    const size = readSize(c, c.scanned);
    if (size < 8 || size > maxFrame) { c.invalid = true; break; }
    if (c.reserved === 0) {
      if (!tryReserve(4 + size)) { waitForMemory(id, c); break; }
      c.reserved = 4 + size;
    }
    if (c.pendingBytes - c.scanned < 4 + size) break;
    c.scanned += 4 + size;
    c.paid += c.reserved;
    c.reserved = 0;
  }
  if (c.invalid) c.scanned = c.pendingBytes;
  if (c.scanned === 0) return;
  const n = c.scanned;
  const ab = new ArrayBuffer(n);
  const out = Buffer.from(ab);
  let filled = 0;
  while (filled < n) {
    const head = c.pending[0];
    const need = n - filled;
    if (head.length <= need) {
      head.copy(out, filled);
      filled += head.length;
      c.pending.shift();
    } else {
      head.copy(out, filled, 0, need);
      c.pending[0] = head.subarray(need);
      filled += need;
    }
  }
  c.pendingBytes -= n;
  c.scanned = 0;
  const paid = c.paid;
  c.paid = 0;
  parentPort.postMessage({ t: 'frames', id, ab, paid }, [ab]);
}

function waitForMemory(id, c) {
  c.waitingForMemory = true;
  c.socket.pause();
  whenAvailable(() => {
    c.waitingForMemory = false;
    if (c.closed) return;
    if (!c.pausedByMain) c.socket.resume();
    cut(id, c);
    keepOwned(c);
  });
}

parentPort.on('message', (m) => {
  if (m.t === 'stop') { server.close(); return; }
  // After everything posted before it (messages arrive in order): the thread ends.
  // What its sockets hold unhanded is given back first (the main thread's count must end at 0).
  if (m.t === 'exit') {
    server.close();
    for (const c of conns.values()) forget(c);
    setImmediate(() => process.exit(0));
    return;
  }
  const c = conns.get(m.id);
  if (!c) return;
  switch (m.t) {
    case 'write':
      if (!c.socket.write(Buffer.from(m.ab))) parentPort.postMessage({ t: 'full', id: m.id });
      break;
    case 'pause': c.pausedByMain = true; c.socket.pause(); break;
    case 'resume': c.pausedByMain = false; if (!c.waitingForMemory) c.socket.resume(); break;
    case 'end': c.socket.end(); break;
    case 'destroy': c.socket.destroy(); break;
  }
});

const listenOn = workerData.fd !== undefined ? { fd: workerData.fd } : { host: workerData.host || undefined, port: workerData.port };
server.once('error', (err) => { throw err; });
server.listen(listenOn, () => {
  const address = server.address();
  parentPort.postMessage({ t: 'listening', port: typeof address === 'object' && address ? address.port : workerData.port, fd: server._handle.fd });
});
`;
