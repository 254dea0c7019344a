/**
 * One client connection: frame reassembly, pipelined request handling, responses in request order.
 *
 * Frames are handed to the dispatcher synchronously and in arrival order, so whatever a handler does
 * before its first `await` (e.g. placing batches in the open object) happens in request order even
 * though requests then run concurrently. Responses are queued by sequence number and written in order.
 * Reading pauses while too many requests are in flight, while the socket's write buffer is full, or
 * while the dispatcher asks for back-pressure (the produce buffer is full).
 */
import type { Socket } from 'node:net';

export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

export interface ConnectionLimits {
  socketRequestMaxBytes: number;
  connectionsMaxIdleMs: number;
  maxInFlightRequests: number;
  meter?: ConnectionMeter;
}

/** Where byte counts go (the broker's metrics). */
export interface ConnectionMeter {
  networkBytesIn: { inc(n: number): void };
  networkBytesOut: { inc(n: number): void };
}

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
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private slots: Slot[] = [];
  private head = 0;
  private inFlight = 0;
  private closed = false;
  private waitingForDispatcher = false;
  private waitingForDrain = false;
  private idleTimer: NodeJS.Timeout | null;

  constructor(
    readonly socket: Socket,
    private readonly dispatcher: Dispatcher,
    private readonly limits: ConnectionLimits,
    private readonly onClose: (conn: Connection, reason: string) => void,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
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
    this.socket.destroy();
    this.pending = [];
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

  private onData(chunk: Buffer): void {
    this.idleTimer?.refresh();
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.limits.meter?.networkBytesIn.inc(chunk.length);
    this.processFrames();
  }

  private processFrames(): void {
    while (!this.closed && !this.mustPause()) {
      if (this.pendingBytes < 4) return;
      const size = this.peekSize();
      if (size < 8 || size > this.limits.socketRequestMaxBytes) {
        // Kafka closes the connection on an invalid receive size; there is no response to address.
        this.close(`invalid request size ${size} (socket.request.max.bytes=${this.limits.socketRequestMaxBytes})`);
        return;
      }
      if (this.pendingBytes < 4 + size) return;
      const frame = this.take(4 + size).subarray(4);
      this.handleFrame(frame);
    }
    if (!this.closed) this.pauseForDispatcherIfNeeded();
  }

  private mustPause(): boolean {
    return this.inFlight >= this.limits.maxInFlightRequests || this.waitingForDrain || this.waitingForDispatcher || this.dispatcher.paused;
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
      return first.subarray(0, n);
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

  private handleFrame(frame: Buffer): void {
    const slot: Slot = { done: false, chunks: null };
    this.slots.push(slot);
    this.inFlight++;
    let result: Promise<Buffer[] | null>;
    try {
      result = this.dispatcher.dispatch(this, frame);
    } catch (err) {
      this.close(err instanceof Error ? err.message : String(err));
      return;
    }
    result.then(
      (chunks) => {
        slot.done = true;
        slot.chunks = chunks;
        this.inFlight--;
        this.flush();
      },
      (err: unknown) => {
        this.inFlight--;
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
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    this.resumeIfPossible();
  }
}
