/**
 * This broker's membership in the cluster: registration in the coordinator, heartbeats, and the view of
 * the live brokers that Metadata, FindCoordinator and group placement read.
 *
 * The view changes only on a heartbeat (every broker.heartbeat.interval.ms) or a `refresh()` (the
 * coordinator's `floe_brokers` notification calls it), and carries the coordinator's membership epoch,
 * which never decreases. When the coordinator cannot be reached the last view is kept: a broker keeps
 * serving what it can rather than dropping its peers. Its own registration may expire meanwhile; the
 * first heartbeat that finds it gone registers again.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinatorError, type Coordinator, type MembershipView, type RegisteredBroker } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { childLogger } from '../observability/log.ts';

const log = childLogger('membership');

/** Leader epochs are int32 on the wire. */
const MAX_EPOCH = 0x7fffffff;

export interface MembershipOptions {
  heartbeatIntervalMs: number;
  sessionTimeoutMs: number;
}

export class Membership {
  /** New at every start: tells this process apart from an earlier one with the same node id. */
  readonly incarnation = randomUUID();
  private epochSeen = 0;
  private brokers: readonly RegisteredBroker[];
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private joined = false;
  private failingSince: number | null = null;
  private readonly listeners: ((epoch: number) => void)[] = [];

  constructor(private readonly coordinator: Coordinator, readonly self: RegisteredBroker, private readonly options: MembershipOptions) {
    this.brokers = [self];
  }

  /** The membership epoch of the current view (the leader epoch of diskless partitions). */
  get epoch(): number {
    return Math.min(this.epochSeen, MAX_EPOCH);
  }

  /** The live brokers by node id; always includes this one (it is serving the request that asks). */
  live(): readonly RegisteredBroker[] {
    return this.brokers;
  }

  isLive(nodeId: number): boolean {
    return this.brokers.some((b) => b.nodeId === nodeId);
  }

  /** Called with the new epoch whenever the live set changes. */
  onChange(listener: (epoch: number) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Registers, then starts heartbeating. A registration of this node id by a broker at another endpoint
   * that is still live is waited out for one session timeout (a crashed broker's registration expires),
   * then refused with DUPLICATE_BROKER_REGISTRATION.
   */
  async join(): Promise<void> {
    // Before the first heartbeat, which notes that this broker holds it.
    await this.coordinator.holdLivenessLock(this.self.nodeId);
    const deadline = Date.now() + this.options.sessionTimeoutMs + this.options.heartbeatIntervalMs;
    for (;;) {
      try {
        await this.register();
        break;
      } catch (err) {
        const duplicate = err instanceof CoordinatorError && err.errorCode === ErrorCode.DUPLICATE_BROKER_REGISTRATION;
        if (!duplicate || Date.now() > deadline) throw err;
        log.warn({ nodeId: this.self.nodeId, reason: err.message }, 'node id registered by another broker; waiting for that registration to expire');
        await sleep(this.options.heartbeatIntervalMs);
      }
    }
    this.joined = true;
    await this.heartbeat();
    this.schedule();
  }

  /** Heartbeats now (coalesced with one in flight): a peer joined or left. */
  refresh(): Promise<void> {
    if (!this.joined || this.stopped) return Promise.resolve();
    if (this.beating) {
      this.again = true;
      return this.beating;
    }
    return this.heartbeat();
  }

  /** Clean shutdown: stops heartbeating and leaves the live set at once. */
  async leave(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.beating;
    await this.coordinator.deregisterBroker(this.self.nodeId, this.incarnation).catch((err: unknown) => {
      log.warn({ err }, 'could not deregister; peers drop this broker when its session times out');
    });
  }

  private async register(): Promise<void> {
    const r = await this.coordinator.registerBroker({
      ...this.self,
      incarnation: this.incarnation,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
    });
    log.info({ nodeId: r.nodeId, rack: this.self.rack, epoch: r.epoch }, 'registered in the cluster');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.refresh().finally(() => this.schedule()), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  private heartbeat(): Promise<void> {
    const run = (async () => {
      do {
        this.again = false;
        await this.beatOnce();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.beating = null;
    });
    this.beating = run;
    return run;
  }

  private async beatOnce(): Promise<void> {
    try {
      let view = await this.coordinator.brokerHeartbeat(this.self.nodeId, this.incarnation, this.options.sessionTimeoutMs);
      if (!view.known && !this.stopped) {
        log.warn({ nodeId: this.self.nodeId }, 'registration expired (coordinator unreachable for longer than broker.session.timeout.ms?); registering again');
        await this.register();
        view = await this.coordinator.brokerHeartbeat(this.self.nodeId, this.incarnation, this.options.sessionTimeoutMs);
      }
      if (this.failingSince !== null) log.info({ downMs: Date.now() - this.failingSince }, 'heartbeats reach the coordinator again');
      this.failingSince = null;
      this.apply(view);
    } catch (err) {
      if (this.failingSince === null) {
        this.failingSince = Date.now();
        log.warn({ err }, 'heartbeat failed; keeping the last view of the live brokers');
      }
    }
  }

  private apply(view: MembershipView): void {
    if (view.epoch < this.epochSeen) return; // an answer older than one already applied
    const brokers = view.brokers.some((b) => b.nodeId === this.self.nodeId) ? view.brokers : [...view.brokers, this.self].sort((a, b) => a.nodeId - b.nodeId);
    const changed = view.epoch !== this.epochSeen || !sameBrokers(brokers, this.brokers);
    this.epochSeen = view.epoch;
    this.brokers = brokers;
    if (!changed) return;
    log.info({ epoch: view.epoch, brokers: brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}${b.rack ? `/${b.rack}` : ''}`) }, 'live brokers changed');
    for (const l of this.listeners) l(this.epoch);
  }
}

function sameBrokers(a: readonly RegisteredBroker[], b: readonly RegisteredBroker[]): boolean {
  return a.length === b.length && a.every((x, i) => x.nodeId === b[i]!.nodeId && x.host === b[i]!.host && x.port === b[i]!.port && x.rack === b[i]!.rack);
}
