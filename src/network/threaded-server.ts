/**
 * A listener whose sockets live in network threads (num.network.threads > 0): the threads accept, read and
 * write (network-thread-source.ts); the main thread keeps everything else — one `Connection` per client over
 * a `ThreadSocket` stand-in, the same dispatcher, handlers, coordinator and the one open object per broker per
 * interval. What moves off the main thread is the socket I/O (system calls, kernel copies) and frame
 * reassembly (the copy of a request spread over many socket reads); the main thread gets whole frames in one
 * transferred buffer and takes views of it.
 *
 * Only PLAINTEXT listeners use threads: TLS and SASL stay on the main thread's KafkaServer (a raw SASL
 * token's 512 KiB cap is checked on its size header, before its body is read). queued.max.request.bytes
 * holds across threads: the pool's count is shared (request-memory-pool.ts), a thread reserves each frame on
 * its size header before reading its body, and hands the frames over paid for (`paid` in a frames message);
 * the Connection releases them when answered, and whatever reaches a socket the main thread has let go of is
 * given back here. A network thread that dies takes its connections with it: their requests that were not answered were never
 * acknowledged (a produce is answered only after its object is committed), so no acknowledged write is
 * lost; `onFatal` is
 * then told, and the broker shuts down cleanly rather than keep a listener with a missing thread.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Connection, type Dispatcher } from './connection.ts';
import { NETWORK_THREAD_SOURCE } from './network-thread-source.ts';
import { UNBOUNDED_REQUEST_MEMORY, type RequestMemoryPool } from './request-memory-pool.ts';
import type { ListenerOptions } from './server.ts';

export interface ThreadedListenerOptions extends ListenerOptions {
  threads: number;
  /** A network thread failed or exited: the listener cannot serve as configured. */
  onFatal: (reason: string) => void;
  /** The program the threads run (tests: one that fails); network-thread-source.ts when absent. */
  threadSource?: string;
}

type FromThread =
  | { t: 'listening'; port: number; fd: number }
  | { t: 'open'; id: number; remoteAddress: string; remotePort: number }
  | { t: 'frames'; id: number; ab: ArrayBuffer; paid: number }
  | { t: 'full' | 'drain'; id: number }
  | { t: 'close'; id: number; reason: string };

/**
 * What `Connection` uses of a socket, for a socket owned by a network thread. Writes between cork() and
 * uncork() go to the thread as one message (one copy into a transferred buffer: a response chunk is often a
 * view of a large cached object, which must not be cloned or transferred).
 */
export class ThreadSocket extends EventEmitter {
  private corked = 0;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private full = false;
  private destroyed = false;

  constructor(private readonly worker: Worker, private readonly id: number, readonly remoteAddress: string, readonly remotePort: number, private readonly memory: RequestMemoryPool) {
    super();
  }

  setNoDelay(): this {
    return this;
  }

  pause(): this {
    if (!this.destroyed) this.worker.postMessage({ t: 'pause', id: this.id });
    return this;
  }

  resume(): this {
    if (!this.destroyed) this.worker.postMessage({ t: 'resume', id: this.id });
    return this;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.send();
  }

  write(chunk: Buffer): boolean {
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.corked === 0) this.send();
    return !this.full;
  }

  end(): this {
    this.send();
    if (!this.destroyed) this.worker.postMessage({ t: 'end', id: this.id });
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.queued = [];
    this.worker.postMessage({ t: 'destroy', id: this.id });
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** From the thread: the socket's write buffer filled or drained; data read; the socket closed. */
  onFull(): void {
    this.full = true;
  }

  onDrain(): void {
    this.full = false;
    this.emit('drain');
  }

  /**
   * `paid`: the bytes of the whole frames at the front of `frames`, reserved in the request memory by the
   * thread. The Connection takes them over (the second argument of its 'data' event); once it is gone, they
   * are given back here.
   */
  onFrames(frames: Buffer, paid: number): void {
    if (this.destroyed) this.memory.release(paid);
    else this.emit('data', frames, paid);
  }

  onClosed(reason: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (reason.startsWith('socket error: ')) this.emit('error', new Error(reason.slice('socket error: '.length)));
    this.emit('close');
  }

  private send(): void {
    if (this.queuedBytes === 0 || this.destroyed) {
      this.queued = [];
      this.queuedBytes = 0;
      return;
    }
    const ab = new ArrayBuffer(this.queuedBytes);
    const out = Buffer.from(ab);
    let at = 0;
    for (const chunk of this.queued) at += chunk.copy(out, at);
    this.queued = [];
    this.queuedBytes = 0;
    this.worker.postMessage({ t: 'write', id: this.id, ab }, [ab]);
  }
}

export class ThreadedKafkaServer {
  readonly connections = new Set<Connection>();
  private readonly workers: Worker[] = [];
  private readonly sockets = new Map<Worker, Map<number, ThreadSocket>>();
  private closing = false;
  private readonly memory: RequestMemoryPool;

  constructor(private readonly dispatcher: Dispatcher, private readonly options: ThreadedListenerOptions) {
    if (options.tls) throw new Error('network threads do not serve TLS listeners');
    this.memory = options.requestMemory ?? UNBOUNDED_REQUEST_MEMORY;
  }

  /** Not used: TLS listeners are not threaded. */
  setSecureContext(): void {}

  async listen(): Promise<number> {
    const first = await this.start({ host: this.options.host, port: this.options.port });
    for (let i = 1; i < this.options.threads; i++) await this.start({ fd: first.fd });
    return first.port;
  }

  private start(where: { host: string; port: number } | { fd: number }): Promise<{ port: number; fd: number }> {
    const worker = new Worker(this.options.threadSource ?? NETWORK_THREAD_SOURCE, {
      eval: true,
      workerData: { ...where, socketRequestMaxBytes: this.options.socketRequestMaxBytes, requestMemory: this.memory.shared, requestMemoryMaxBytes: this.memory.maxBytes },
      name: `floe-network-${this.workers.length}`,
    });
    this.workers.push(worker);
    const sockets = new Map<number, ThreadSocket>();
    this.sockets.set(worker, sockets);
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on('message', (m: FromThread) => {
        switch (m.t) {
          case 'listening':
            listening = true;
            resolve({ port: m.port, fd: m.fd });
            break;
          case 'open': {
            const socket = new ThreadSocket(worker, m.id, m.remoteAddress, m.remotePort, this.memory);
            sockets.set(m.id, socket);
            socket.once('close', () => sockets.delete(m.id));
            this.accept(socket);
            break;
          }
          case 'frames': {
            const socket = sockets.get(m.id);
            // A socket the main thread has let go of: what the thread reserved for its frames is given back.
            if (socket) socket.onFrames(Buffer.from(m.ab), m.paid);
            else this.memory.release(m.paid);
            break;
          }
          case 'full':
            sockets.get(m.id)?.onFull();
            break;
          case 'drain':
            sockets.get(m.id)?.onDrain();
            break;
          case 'close':
            sockets.get(m.id)?.onClosed(m.reason);
            break;
        }
      });
      // A thread that throws emits 'error' and then 'exit': the first reason (the error's) is the one reported.
      let failedOnce = false;
      const failed = (reason: string) => {
        if (failedOnce) return;
        failedOnce = true;
        for (const s of [...sockets.values()]) s.onClosed(reason);
        if (!listening) reject(new Error(reason));
        else if (!this.closing) this.options.onFatal(reason);
      };
      worker.on('error', (err) => failed(`network thread failed: ${err.message}`));
      worker.on('exit', (code) => failed(`network thread exited (code ${code})`));
    });
  }

  private accept(socket: ThreadSocket): void {
    const conn = new Connection(socket as unknown as Socket, this.dispatcher, this.options, (c, reason) => {
      this.connections.delete(c);
      this.options.onConnectionClosed?.(c, reason);
    }, this.options.listener);
    this.connections.add(conn);
    this.options.onConnection?.(conn);
  }

  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    for (const w of this.workers) w.postMessage({ t: 'stop' });
    await Promise.all([...this.connections].map((c) => c.drainAndClose(graceMs)));
    // Each thread exits once it has handled what was posted before (the last responses, then the closes):
    // terminate() at once would drop them, and a produce answered during the shutdown would never arrive.
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => void w.terminate().then(() => resolve(), () => resolve()), graceMs);
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      w.postMessage({ t: 'exit' });
    })));
  }
}
