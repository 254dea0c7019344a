/**
 * The program each network thread runs (num.network.threads > 0; threaded-server.ts starts them). It owns
 * its sockets: it accepts connections on the listener's socket (the first thread binds it, the others accept
 * on the same file descriptor, so the kernel spreads connections over the threads), reads them, cuts the
 * byte stream into whole frames, and hands the main thread one transferred ArrayBuffer of whole,
 * size-prefixed frames per read (one copy, here, off the main thread; the main thread takes views of it).
 * It writes the responses the main thread sends, and pauses or resumes reading when told to.
 *
 * Kept as plain JavaScript in a string, run with `new Worker(source, { eval: true })`: the same text runs
 * from the TypeScript sources (tsx) and from the single-file bundle, and a worker cannot load either of those
 * module graphs by path. It depends on node built-ins only and holds no broker state.
 *
 * Messages to the main thread: listening {port, fd}; open {id, remoteAddress, remotePort}; frames {id, ab};
 * full {id} / drain {id} (the socket's write buffer); close {id, reason}.
 * Messages from it: write {id, ab}; pause/resume/end/destroy {id}; stop (close the listener); exit (end the
 * thread, once the messages before it are handled).
 */
export const NETWORK_THREAD_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const maxFrame = workerData.socketRequestMaxBytes;
const conns = new Map();
let nextId = 1;

const server = net.createServer((socket) => {
  const id = nextId++;
  const c = { socket, pending: [], pendingBytes: 0, scanned: 0, error: null };
  conns.set(id, c);
  socket.setNoDelay(true);
  parentPort.postMessage({ t: 'open', id, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
  socket.on('data', (chunk) => onData(id, c, chunk));
  socket.on('drain', () => parentPort.postMessage({ t: 'drain', id }));
  socket.on('error', (err) => { c.error = err.message; });
  socket.on('close', () => {
    conns.delete(id);
    parentPort.postMessage({ t: 'close', id, reason: c.error ? 'socket error: ' + c.error : 'closed by peer' });
  });
});

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
  c.pending.push(chunk);
  c.pendingBytes += chunk.length;
  // Whole frames at the front; a size the main thread will refuse is passed on as is (it closes the connection).
  while (c.pendingBytes - c.scanned >= 4) {
    const size = readSize(c, c.scanned);
    if (size < 0 || size > maxFrame) { c.scanned = c.pendingBytes; break; }
    if (c.pendingBytes - c.scanned < 4 + size) break;
    c.scanned += 4 + size;
  }
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
  parentPort.postMessage({ t: 'frames', id, ab }, [ab]);
}

parentPort.on('message', (m) => {
  if (m.t === 'stop') { server.close(); return; }
  // After everything posted before it (messages arrive in order): the thread ends.
  if (m.t === 'exit') { server.close(); setImmediate(() => process.exit(0)); return; }
  const c = conns.get(m.id);
  if (!c) return;
  switch (m.t) {
    case 'write':
      if (!c.socket.write(Buffer.from(m.ab))) parentPort.postMessage({ t: 'full', id: m.id });
      break;
    case 'pause': c.socket.pause(); break;
    case 'resume': c.socket.resume(); break;
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
