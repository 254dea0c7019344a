/**
 * Broker metrics in Prometheus form (prom-client), one registry per broker so several in-process brokers
 * (tests) do not collide. Names follow Kafka's JMX names as the Prometheus JMX exporter renders them where
 * Kafka has the metric (kafka_server_brokertopicmetrics_…, kafka_network_requestmetrics_…), and floe_… for
 * what only Floe has (object store, coordinator, caches, the open object).
 *
 * Counters that storage keeps anyway (cache hits, back-pressure events) are read at scrape time through
 * `collect`, so the hot paths carry no extra work for them.
 */
import client from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Finer between 50 ms and 1 s, where S3 PUT and GET latencies fall (the benchmark reads PUT p99 from them). */
const OBJECT_STORE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 1, 1.5, 2.5, 5, 10, 30];

/** Fine between 0.5 and 30 ms, where local writes and fsyncs fall (the benchmark reads their p99 from them). */
const CLASSIC_WRITE_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** A metric's value, or its values by label. */
export type Reading = number | Record<string, number>;

export class BrokerMetrics {
  readonly registry = new client.Registry();

  readonly requests = new client.Counter({
    name: 'kafka_network_requestmetrics_requests_total', help: 'Requests handled, by API and version (Kafka\'s RequestsPerSec tags).', labelNames: ['request', 'version'] as const, registers: [this.registry],
  });
  readonly requestSeconds = new client.Histogram({
    name: 'kafka_network_requestmetrics_totaltime_seconds', help: 'Time from a request being read to its response being ready, by API.',
    labelNames: ['request'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly requestErrors = new client.Counter({
    name: 'floe_request_failures_total', help: 'Requests whose handler failed (answered UNKNOWN_SERVER_ERROR) or that broke the protocol (connection closed).',
    labelNames: ['request'] as const, registers: [this.registry],
  });
  readonly networkBytesIn = new client.Counter({ name: 'floe_network_received_bytes_total', help: 'Bytes read from client sockets.', registers: [this.registry] });
  readonly networkBytesOut = new client.Counter({ name: 'floe_network_sent_bytes_total', help: 'Bytes written to client sockets.', registers: [this.registry] });

  readonly objectStoreRequests = new client.Counter({
    name: 'floe_objectstore_requests_total', help: 'Object store requests, by operation (put, get, delete, list).', labelNames: ['op'] as const, registers: [this.registry],
  });
  readonly objectStoreErrors = new client.Counter({
    name: 'floe_objectstore_errors_total', help: 'Failed object store requests, by operation.', labelNames: ['op'] as const, registers: [this.registry],
  });
  readonly objectStoreBytes = new client.Counter({
    name: 'floe_objectstore_bytes_total', help: 'Bytes written (put) and read (get) from the object store.', labelNames: ['op'] as const, registers: [this.registry],
  });
  readonly objectStoreSeconds = new client.Histogram({
    name: 'floe_objectstore_request_duration_seconds', help: 'Object store request latency, by operation.', labelNames: ['op'] as const,
    buckets: OBJECT_STORE_BUCKETS, registers: [this.registry],
  });

  readonly coordinatorOps = new client.Counter({
    name: 'floe_coordinator_operations_total', help: 'Coordinator operations (one transaction each), by operation.', labelNames: ['op'] as const, registers: [this.registry],
  });
  readonly coordinatorErrors = new client.Counter({
    name: 'floe_coordinator_errors_total', help: 'Coordinator operations that failed, by operation.', labelNames: ['op'] as const, registers: [this.registry],
  });
  readonly coordinatorSeconds = new client.Histogram({
    name: 'floe_coordinator_operation_duration_seconds', help: 'Coordinator operation latency, by operation.', labelNames: ['op'] as const,
    buckets: LATENCY_BUCKETS, registers: [this.registry],
  });

  readonly disklessWriteStageSeconds = new client.Histogram({
    name: 'floe_diskless_write_stage_seconds',
    help: 'Diskless write path, per object, by stage: open (first append to seal), upload (seal to the end of its PUT), ordering (PUT done, waiting for earlier objects\' commits), commit (coordinator commit), total (first append to the producers\' answer).',
    labelNames: ['stage'] as const, buckets: OBJECT_STORE_BUCKETS, registers: [this.registry],
  });

  readonly classicWriteStageSeconds = new client.Histogram({
    name: 'floe_classic_write_stage_seconds',
    help: 'Classic write path, per round (the batches of one partition written together), by stage: queued (oldest append to the start of its write), write (writev), sync (the fdatasync covering it), total (oldest append to visible and answered).',
    labelNames: ['stage'] as const, buckets: CLASSIC_WRITE_BUCKETS, registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
  }

  /**
   * A gauge or counter read at scrape time. A read may be asynchronous (a coordinator query); when it fails,
   * the metric keeps the values of the last scrape rather than failing the whole scrape.
   */
  observe(name: string, help: string, type: 'gauge' | 'counter', read: () => Reading | Promise<Reading>, label = 'kind'): void {
    const Metric = type === 'gauge' ? client.Gauge : client.Counter;
    const show = (metric: client.Gauge, value: Reading): void => {
      metric.reset();
      if (typeof value === 'number') metric.inc(value);
      else for (const [k, v] of Object.entries(value)) metric.inc({ [label]: k }, v);
    };
    new Metric({
      name, help, labelNames: [label], registers: [this.registry],
      collect(this: client.Gauge | client.Counter) {
        const value = read();
        if (!(value instanceof Promise)) return show(this as client.Gauge, value);
        return value.then((v) => show(this as client.Gauge, v), () => {});
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Times every promise-returning method of `target` under its method name (used for the coordinator seam). */
export function meterAsyncMethods<T extends object>(target: T, onCall: (op: string, seconds: number, failed: boolean) => void): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return function (this: unknown, ...args: unknown[]) {
        const start = performance.now();
        const result = value.apply(obj, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (v) => { onCall(prop, (performance.now() - start) / 1000, false); return v; },
          (err: unknown) => { onCall(prop, (performance.now() - start) / 1000, true); throw err; },
        );
      };
    },
  });
}
