/**
 * One client connection: frame reassembly, pipelined request handling, responses in request order.
 *
 * Frames are handed to the dispatcher synchronously and in arrival order, so whatever a handler does
 * before its first `await` (e.g. placing batches in the open object) happens in request order even
 * though requests then run concurrently. Responses are queued by sequence number and written in order.
 * Reading pauses while too many requests are in flight, while the socket's write buffer is full, while
 * the dispatcher asks for back-pressure (the produce buffer is full), or while the broker-wide request
 * memory (`queued.max.request.bytes`, request-memory-pool.ts) cannot hold the next request: its size is
 * reserved when its size header is read, before its body, and released when its response is ready. Over a
 * network thread's ThreadSocket the thread has reserved whole frames already: they come paid for (the 'data'
 * event's second argument) and are released the same way, or given back if the connection drops them.
 *
 * Direct reads (a plain TCP socket from server.ts, direct-reads.ts): the kernel reads a request straight into
 * the buffer the request will live in; the connection cuts frames from the rest of each read and copies out of
 * the shared scratch buffer what it keeps.
 */
import type { Socket } from 'node:net';
import type { DirectReads } from './direct-reads.ts';
import { UNBOUNDED_REQUEST_MEMORY, type RequestMemoryPool } from './request-memory-pool.ts';

export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

export interface ConnectionLimits {
  socketRequestMaxBytes: number;
  connectionsMaxIdleMs: number;
  maxInFlightRequests: number;
  /** Broker-wide bound on the bytes of requests read and not yet answered; unbounded when absent. */
  requestMemory?: RequestMemoryPool;
  meter?: ConnectionMeter;
}

/** Where byte counts go (the broker's metrics). */
export interface ConnectionMeter {
  networkBytesIn: { inc(n: number): void };
  networkBytesOut: { inc(n: number): void };
}

/** The listener a connection came through. */
export interface ListenerInfo {
  name: string;
  securityProtocol: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
}

const PLAINTEXT_LISTENER: ListenerInfo = { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT' };

export interface Dispatcher {
  /**
   * Handles one request frame (without its 4-byte size). Returns the full response frame as chunks,
   * or null when no response is due (acks=0). Throws ProtocolViolation to have the connection closed.
   */
  dispatch(conn: Connection, frame: Buffer): Promise<Buffer[] | null>;
  /** True while new requests should not be read (back-pressure). */
  readonly paused: boolean;
  /** Resolves when `paused` turns false. */
  whenResumed(): Promise<void>;
}

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
}

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  /** The client's address without the port (ACL host matching). */
  readonly remoteHost: string;
  /** Kafka principal of the client: User:ANONYMOUS until SASL or a client certificate says otherwise. */
  principal = 'User:ANONYMOUS';
  /** False on a SASL listener until SaslAuthenticate succeeds; only ApiVersions and SASL requests pass before. */
  authenticated: boolean;
  /** State of the SASL exchange, owned by the broker's SASL handlers (opaque here). */
  sasl: unknown = null;
  /** The next frame is a raw SASL token, not a request (after SaslHandshake v0, as in Kafka). */
  rawSaslToken = false;
  /** When the SASL session ends (KIP-368, connections.max.reauth.ms); 0 = never. */
  sessionExpiresAt = 0;
  private ending: string | null = null;
  private muted = false;
  private muteTimer: NodeJS.Timeout | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private slots: Slot[] = [];
  private head = 0;
  private inFlight = 0;
  private closed = false;
  private waitingForDispatcher = false;
  private waitingForDrain = false;
  private waitingForMemory = false;
  /** Bytes reserved in the request memory for the frame being read (0: none yet). */
  private reserved = 0;
  /**
   * Bytes of whole frames at the front of `pending` that a network thread already reserved (threaded-server.ts
   * hands them over with the data); they are not reserved again, and are given back if never handled.
   */
  private prepaid = 0;
  private readonly memory: RequestMemoryPool;
  private idleTimer: NodeJS.Timeout | null;
  /** Direct reads: the buffers the socket reads into (bytes in its scratch buffer never stay in `pending`). */
  private readonly reads: DirectReads | null;
  /** Direct reads: a frame read whole into its own buffer goes to the front of the frames to cut. */
  private readonly pushWholeFrame = (frame: Buffer): void => {
    this.pending.push(frame);
    this.pendingBytes += frame.length;
  };

  constructor(
    readonly socket: Socket,
    private readonly dispatcher: Dispatcher,
    private readonly limits: ConnectionLimits,
    private readonly onClose: (conn: Connection, reason: string) => void,
    readonly listener: ListenerInfo = PLAINTEXT_LISTENER,
    /** The socket reads through these (server.ts), calling onDirectRead; absent: its 'data' events. */
    directReads?: DirectReads,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.remoteHost = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.authenticated = listener.securityProtocol !== 'SASL_PLAINTEXT' && listener.securityProtocol !== 'SASL_SSL';
    this.memory = limits.requestMemory ?? UNBOUNDED_REQUEST_MEMORY;
    socket.setNoDelay(true);
    this.reads = directReads ?? null;
    if (!directReads) {
      // A ThreadSocket adds the bytes its network thread reserved for the whole frames at the front of `chunk`.
      socket.on('data', (chunk: Buffer, paid?: number) => this.onData(chunk, paid ?? 0));
    }
    socket.on('drain', () => {
      this.waitingForDrain = false;
      this.resumeIfPossible();
    });
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('closed by peer'));
    // A negative connections.max.idle.ms disables idle reaping.
    this.idleTimer = limits.connectionsMaxIdleMs < 0 ? null : setTimeout(() => this.close('idle'), limits.connectionsMaxIdleMs).unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.muteTimer) clearTimeout(this.muteTimer);
    this.socket.destroy();
    this.pending = [];
    this.reads?.drop();
    this.releaseReserved();
    this.onClose(this, reason);
  }

  /**
   * Gives back the reservation of a frame not read in full and of the prepaid frames not handled (its requests
   * in flight release their own).
   */
  private releaseReserved(): void {
    if (this.reserved + this.prepaid > 0) this.memory.release(this.reserved + this.prepaid);
    this.reserved = 0;
    this.prepaid = 0;
  }

  /** Stops reading requests for `ms` (a client over its quota, KIP-219); responses still go out. */
  mute(ms: number): void {
    if (this.closed || ms <= 0) return;
    this.muted = true;
    this.socket.pause();
    if (this.muteTimer) clearTimeout(this.muteTimer);
    this.muteTimer = setTimeout(() => {
      this.muteTimer = null;
      this.muted = false;
      this.resumeIfPossible();
    }, ms);
    this.muteTimer.unref();
  }

  /**
   * Closes the connection once the responses of the requests already read are written (a failed SASL
   * login: the client reads why, then the connection ends). Stops reading at once.
   */
  closeAfterResponses(reason: string): void {
    if (this.closed || this.ending !== null) return;
    this.ending = reason;
    this.socket.pause();
    this.pending = [];
    this.pendingBytes = 0;
    this.reads?.drop();
    this.releaseReserved();
    if (this.inFlight === 0) this.endNow();
  }

  private endNow(): void {
    const reason = this.ending ?? 'closed';
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.end();
    this.releaseReserved();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.onClose(this, reason);
  }

  /** Ends the connection after the responses already queued are written. */
  async drainAndClose(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.socket.pause();
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline && !this.closed) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.close('shutdown');
  }

  private onData(chunk: Buffer, paid: number): void {
    if (this.ending !== null || this.closed) {
      this.memory.release(paid);
      return;
    }
    this.prepaid += paid;
    this.idleTimer?.refresh();
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.limits.meter?.networkBytesIn.inc(chunk.length);
    this.processFrames();
  }

  /** Direct reads: `bytes` were read into the start of `into` (the buffer the DirectReads handed out). */
  onDirectRead(bytes: number, into: Buffer): void {
    if (this.ending !== null || this.closed) return;
    this.idleTimer?.refresh();
    this.limits.meter?.networkBytesIn.inc(bytes);
    const rest = this.reads!.take(bytes, into, this.pushWholeFrame);
    if (rest !== null) {
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    // Part of a frame read into its own buffer: nothing to cut yet.
    if (this.pendingBytes === 0) return;
    this.processFrames();
    this.keepDirectReadsOwned();
  }

  /** After a scratch read was processed: what is left is moved or copied out of the scratch buffer (DirectReads.keepOwned). */
  private keepDirectReadsOwned(): void {
    if (this.closed || this.ending !== null || this.pending.length === 0) return;
    if (this.reads!.keepOwned(this.pending, this.pendingBytes, this.reserved)) {
      this.pending = [];
      this.pendingBytes = 0;
    }
  }

  private processFrames(): void {
    while (!this.closed && this.ending === null && !this.mustPause()) {
      if (this.pendingBytes < 4) return;
      const size = this.peekSize();
      // A raw SASL token (after SaslHandshake v0) has no request header; Kafka caps tokens at 512 KiB.
      const [min, max] = this.rawSaslToken ? [0, 524288] : [8, this.limits.socketRequestMaxBytes];
      if (size < min || size > max) {
        // Kafka closes the connection on an invalid receive size; there is no response to address.
        this.close(`invalid request size ${size} (socket.request.max.bytes=${this.limits.socketRequestMaxBytes})`);
        return;
      }
      if (this.reserved === 0 && this.prepaid > 0) {
        // A whole frame its network thread reserved (prepaid frames are whole and come first).
        this.reserved = 4 + size;
        this.prepaid -= 4 + size;
      } else if (this.reserved === 0) {
        // 4 + size > 0 always, so `reserved` is 0 only while nothing is reserved.
        if (!this.memory.tryReserve(4 + size)) {
          this.waitForMemory();
          return;
        }
        this.reserved = 4 + size;
      }
      if (this.pendingBytes < 4 + size) return;
      const frame = this.take(4 + size).subarray(4);
      const reserved = this.reserved;
      this.reserved = 0;
      this.handleFrame(frame, reserved);
    }
    if (!this.closed) this.pauseForDispatcherIfNeeded();
  }

  private mustPause(): boolean {
    return this.muted || this.inFlight >= this.limits.maxInFlightRequests || this.waitingForDrain || this.waitingForDispatcher || this.waitingForMemory || this.dispatcher.paused;
  }

  /** Stops reading until the request memory is below its bound again. */
  private waitForMemory(): void {
    if (this.waitingForMemory) return;
    this.waitingForMemory = true;
    this.socket.pause();
    void this.memory.whenAvailable().then(() => {
      this.waitingForMemory = false;
      this.resumeIfPossible();
    });
  }

  private pauseForDispatcherIfNeeded(): void {
    if (this.mustPause()) {
      this.socket.pause();
      if (this.dispatcher.paused && !this.waitingForDispatcher) {
        this.waitingForDispatcher = true;
        void this.dispatcher.whenResumed().then(() => {
          this.waitingForDispatcher = false;
          this.resumeIfPossible();
        });
      }
    }
  }

  private resumeIfPossible(): void {
    if (this.closed || this.mustPause()) {
      if (!this.closed) this.pauseForDispatcherIfNeeded();
      return;
    }
    this.socket.resume();
    this.processFrames();
    if (this.reads !== null) this.keepDirectReadsOwned();
  }

  private peekSize(): number {
    const first = this.pending[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.pending, 4);
    return head.readInt32BE(0);
  }

  /** Removes `n` bytes from the front of the pending chunks; a view when one chunk holds them all. */
  private take(n: number): Buffer {
    const first = this.pending[0]!;
    this.pendingBytes -= n;
    if (first.length >= n) {
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      // A frame in the scratch buffer of direct reads is copied out: the next read reuses that buffer.
      return this.reads !== null && first.buffer === this.reads.scratch.buffer ? Buffer.from(first.subarray(0, n)) : first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.pending[0]!;
      const need = n - filled;
      if (chunk.length <= need) {
        chunk.copy(out, filled);
        filled += chunk.length;
        this.pending.shift();
      } else {
        chunk.copy(out, filled, 0, need);
        this.pending[0] = chunk.subarray(need);
        filled += need;
      }
    }
    return out;
  }

  private handleFrame(frame: Buffer, reserved: number): void {
    const slot: Slot = { done: false, chunks: null };
    this.slots.push(slot);
    this.inFlight++;
    let result: Promise<Buffer[] | null>;
    try {
      result = this.dispatcher.dispatch(this, frame);
    } catch (err) {
      this.memory.release(reserved);
      this.close(err instanceof Error ? err.message : String(err));
      return;
    }
    result.then(
      (chunks) => {
        slot.done = true;
        slot.chunks = chunks;
        this.inFlight--;
        this.memory.release(reserved);
        this.flush();
      },
      (err: unknown) => {
        this.inFlight--;
        this.memory.release(reserved);
        this.close(err instanceof Error ? err.message : String(err));
      },
    );
  }

  private flush(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.head < this.slots.length && this.slots[this.head]!.done) {
      const slot = this.slots[this.head]!;
      this.slots[this.head] = undefined as unknown as Slot;
      this.head++;
      if (slot.chunks === null) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      for (const chunk of slot.chunks) {
        if (!this.socket.write(chunk)) this.waitingForDrain = true;
        this.limits.meter?.networkBytesOut.inc(chunk.length);
      }
    }
    if (wrote) {
      this.socket.uncork();
      this.idleTimer?.refresh();
    }
    if (this.ending !== null) {
      if (this.inFlight === 0) this.endNow();
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    this.resumeIfPossible();
  }
}
