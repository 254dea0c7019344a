"""Load generator for the Floe benchmark suite (bench/run.ts), on confluent-kafka (librdkafka).

Run with Debian's /usr/bin/python3 (python3-confluent-kafka). Every mode prints one JSON object on stdout;
progress and errors go to stderr.

  produce  --bootstrap B --topic T [--seconds S | --count N] [--size 1024] [--rate R] [--sample K]
           [--prefill P] [--mock] [--config k=v ...]
      One Producer (one connection per broker), acks=all unless --config says otherwise, otherwise the
      client's defaults. --rate 0 (default) produces as fast as the client can; --rate R offers R records/s
      (paced every millisecond). Every record's value starts with the send time (8 bytes, float64 seconds,
      for end-to-end latency). Delivery latency is sampled on one record in K (default: about 20,000
      samples a second at most). --mock produces to librdkafka's in-memory mock broker
      (test.mock.num.brokers=1) instead of --bootstrap: the reference for what the client can do.
      Before measuring, one warm-up record (value "warm-up!") is produced and awaited, and with
      --prefill P one more into each of partitions 0..P-1 (so that no partition is empty while measuring):
      the topic holds sent + warmUp records.
      Prints "measuring" on stderr when the measured run starts and "produced" when the last record was
      handed to the client (before the final flush).
      Output: sent, warmUp, failed, bytes, seconds (first produce call to last delivery), latency
      percentiles (ms), cpuSeconds (this process's CPU time, librdkafka's threads included, over those seconds).
      With --transaction-records N: a transactional producer (transactional.id floe-bench-<topic>-<pid>),
      as fast as it goes, N records per transaction (begin, produce N, flush, commit), whole transactions
      until --seconds passed; the warm-up record is a transaction of its own. Adds transactions, commitMs
      (commit_transaction once the records are delivered: EndTxn and the markers) and transactionMs (begin
      to commit returned) percentiles; records are counted when their transaction committed.

  consume  --bootstrap B --topic T --partitions P --expect N [--e2e] [--ready] [--timeout S]
      Assigns partitions 0..P-1 from offset 0 (no group: assign() only) and reads until N records were seen,
      checking that every partition's offsets run 0, 1, 2, ... with no gap and no duplicate. With --ready it
      first prints "ready" on stderr once the first fetch round returned (tail consumers are started before
      the producer); then N may be given later on stdin (--expect -1: read N from stdin when the producer is
      done). --e2e measures end-to-end latency from the send time in each value.
      Output: records, bytes, seconds (first record to last), per-partition counts, e2e percentiles (ms),
      cpuSeconds (this process's CPU time over those seconds).
      Exits 1 (and says why) when the records do not add up.

  admin    --bootstrap B --topic NAME:PARTITIONS[:key=value,...] ...
      Creates topics (CreateTopics through the AdminClient).
"""
import argparse
import json
import os
import struct
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

STAMP = struct.Struct("<d")
# The first record of every produce run (connection and metadata set-up are not part of the measurement);
# consumers count it but take no latency from it.
WARM_UP = b"warm-up!"


def percentiles(samples):
    if not samples:
        return None
    s = sorted(samples)
    n = len(s)

    def at(p):
        return round(s[min(n - 1, int(p / 100.0 * n))], 3)

    return {"samples": n, "p50": at(50), "p99": at(99), "p99.9": at(99.9), "max": round(s[-1], 3), "mean": round(sum(s) / n, 3)}


def parse_config(pairs):
    conf = {}
    for kv in pairs or []:
        k, _, v = kv.partition("=")
        conf[k] = v
    return conf


def produce(args):
    conf = {"acks": "all"}
    if args.mock:
        conf["test.mock.num.brokers"] = 1
    else:
        conf["bootstrap.servers"] = args.bootstrap
    conf.update(parse_config(args.config))
    errors = []

    def on_error(err):
        # Connection-level errors; librdkafka retries them, but report the first few.
        if len(errors) < 5:
            errors.append(str(err))

    conf["error_cb"] = on_error
    p = Producer(conf)
    # Warm-up: metadata and the connection are not part of the measurement.
    warm = []
    warm_key = b"warm-up" if args.keys > 0 else None
    p.produce(args.topic, value=WARM_UP, key=warm_key, on_delivery=lambda err, msg: warm.append(err))
    p.flush(60)
    if not warm or warm[0] is not None:
        print(json.dumps({"error": "warm-up record not delivered: %s" % (warm[0] if warm else "timeout"), "clientErrors": errors}))
        return 1
    warm_up = 1
    if args.prefill > 0:
        # One record in every partition, so that none is empty while measuring.
        for i in range(args.prefill):
            p.produce(args.topic, value=WARM_UP, key=warm_key, partition=i, on_delivery=lambda err, msg: warm.append(err))
        p.flush(120)
        bad = [e for e in warm[1:] if e is not None]
        if len(warm) != 1 + args.prefill or bad:
            print(json.dumps({"error": "prefill records not delivered: %s" % (bad[:3] or "timeout"), "clientErrors": errors}))
            return 1
        warm_up += args.prefill

    size = args.size
    filler = b"x" * (size - STAMP.size)
    rate = args.rate
    sample = args.sample or max(1, int((rate or 200000) / 20000))
    latencies = []
    failed = [0]
    last_delivery = [0.0]

    def on_delivery(err, msg, sent):
        now = time.perf_counter()
        last_delivery[0] = now
        if err is not None:
            failed[0] += 1
            if len(errors) < 5:
                errors.append(str(err))
        else:
            latencies.append((now - sent) * 1000.0)

    produce_ = p.produce
    topic = args.topic
    wall = time.time
    perf = time.perf_counter
    pack = STAMP.pack
    count = args.count if args.count > 0 else None
    keys = [b"key-%d" % i for i in range(args.keys)] if args.keys > 0 else None
    # Markers for the caller, which scrapes the broker's metrics at each: the steady part of the run is
    # between "measuring" and "produced" (then the client flushes what it still holds).
    sys.stderr.write("measuring\n")
    sys.stderr.flush()
    t0 = perf()
    cpu0 = time.process_time()
    end = t0 + args.seconds
    sent = 0
    while True:
        now = perf()
        if count is not None:
            if sent >= count:
                break
        elif now >= end:
            break
        due = int((now - t0) * rate) + 1 if rate > 0 else sent + 1000
        if count is not None:
            due = min(due, count)
        if sent >= due:
            p.poll(0)
            time.sleep(0.0005)
            continue
        while sent < due:
            value = pack(wall()) + filler
            key = keys[sent % len(keys)] if keys else None
            try:
                if sent % sample == 0:
                    s = perf()
                    produce_(topic, value, key, on_delivery=lambda err, msg, s=s: on_delivery(err, msg, s))
                else:
                    produce_(topic, value, key)
            except BufferError:
                p.poll(0.001)
                continue
            sent += 1
        p.poll(0)
    produce_end = perf()
    sys.stderr.write("produced\n")
    sys.stderr.flush()
    left = p.flush(120)
    done = perf()
    cpu = time.process_time() - cpu0
    if left:
        failed[0] += left
    seconds = done - t0
    out = {
        "sent": sent,
        "warmUp": warm_up,
        "failed": failed[0],
        "bytes": sent * size,
        "seconds": round(seconds, 4),
        "produceCallSeconds": round(produce_end - t0, 4),
        "recordsPerSec": round(sent / seconds, 1),
        "MBps": round(sent * size / seconds / 1e6, 3),
        "offeredRate": rate,
        "latencyMs": percentiles(latencies),
        "cpuSeconds": round(cpu, 3),
        "clientErrors": errors,
    }
    print(json.dumps(out))
    return 0 if failed[0] == 0 else 1


def produce_transactions(args):
    """--transaction-records N: whole transactions of N records, as fast as one producer goes."""
    conf = {"bootstrap.servers": args.bootstrap, "transactional.id": "floe-bench-%s-%d" % (args.topic, os.getpid())}
    conf.update(parse_config(args.config))
    errors = []
    conf["error_cb"] = lambda err: len(errors) < 5 and errors.append(str(err))
    p = Producer(conf)
    try:
        p.init_transactions(60)
        p.begin_transaction()
        p.produce(args.topic, value=WARM_UP)
        p.commit_transaction(60)
    except KafkaException as e:
        print(json.dumps({"error": "warm-up transaction failed: %s" % e.args[0], "clientErrors": errors}))
        return 1
    per_txn = args.transaction_records
    filler = b"x" * (args.size - STAMP.size)
    failed = [0]
    latencies = []
    sample = args.sample or max(1, per_txn // 100)

    def on_delivery(err, msg, sent):
        if err is not None:
            failed[0] += 1
            if len(errors) < 5:
                errors.append(str(err))
        else:
            latencies.append((time.perf_counter() - sent) * 1000.0)

    commit_ms, txn_ms = [], []
    sys.stderr.write("measuring\n")
    sys.stderr.flush()
    perf = time.perf_counter
    t0 = perf()
    end = t0 + args.seconds
    sent = 0
    try:
        while perf() < end:
            began = perf()
            p.begin_transaction()
            i = 0
            while i < per_txn:
                value = STAMP.pack(time.time()) + filler
                try:
                    if i % sample == 0:
                        s = perf()
                        p.produce(args.topic, value, on_delivery=lambda err, msg, s=s: on_delivery(err, msg, s))
                    else:
                        p.produce(args.topic, value)
                except BufferError:
                    p.poll(0.001)
                    continue
                i += 1
            p.flush(120)
            c0 = perf()
            p.commit_transaction(120)
            done = perf()
            commit_ms.append((done - c0) * 1000.0)
            txn_ms.append((done - began) * 1000.0)
            sent += per_txn
    except KafkaException as e:
        failed[0] += per_txn
        errors.append("transaction failed: %s" % e.args[0])
    sys.stderr.write("produced\n")
    sys.stderr.flush()
    seconds = perf() - t0
    print(json.dumps({
        "sent": sent,
        "warmUp": 1,
        "failed": failed[0],
        "bytes": sent * args.size,
        "seconds": round(seconds, 4),
        "produceCallSeconds": round(seconds, 4),
        "recordsPerSec": round(sent / seconds, 1),
        "MBps": round(sent * args.size / seconds / 1e6, 3),
        "offeredRate": 0,
        "latencyMs": percentiles(latencies),
        "transactions": len(commit_ms),
        "recordsPerTransaction": per_txn,
        "commitMs": percentiles(commit_ms),
        "transactionMs": percentiles(txn_ms),
        "clientErrors": errors,
    }))
    return 0 if failed[0] == 0 else 1


def consume(args):
    conf = {
        "bootstrap.servers": args.bootstrap,
        "group.id": "floe-bench-%s" % args.topic,
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "error",
    }
    conf.update(parse_config(args.config))
    errors = []
    conf["error_cb"] = lambda err: len(errors) < 5 and errors.append(str(err))
    c = Consumer(conf)
    parts = args.partitions
    c.assign([TopicPartition(args.topic, i, 0) for i in range(parts)])
    expect = [args.expect]
    got_expect = threading.Event()
    if args.expect >= 0:
        got_expect.set()
    else:
        def read_stdin():
            line = sys.stdin.readline()
            try:
                expect[0] = int(line.strip())
            except ValueError:
                expect[0] = -2
            got_expect.set()

        threading.Thread(target=read_stdin, daemon=True).start()

    next_offset = [0] * parts
    counts = [0] * parts
    problems = []
    total = 0
    nbytes = 0
    e2e = []
    e2e_on = args.e2e
    unpack = STAMP.unpack_from
    wall = time.time
    first = None
    last = None
    first_cpu = last_cpu = 0.0
    ready_said = not args.ready
    deadline = time.perf_counter() + args.timeout
    consume_ = c.consume
    poll_ = c.poll
    while True:
        if got_expect.is_set():
            if expect[0] == -2:
                problems.append("bad expected count on stdin")
                break
            if total >= expect[0]:
                break
        if time.perf_counter() > deadline:
            problems.append("timed out after %ss with %d of %s records" % (args.timeout, total, expect[0] if expect[0] >= 0 else "?"))
            break
        # consume(n, timeout) waits until n messages or the timeout, whichever comes first: at low rates that
        # waited the whole 200 ms and end-to-end latency included it. Block for the first message only, then
        # take what is already queued.
        first_msg = poll_(0.2)
        msgs = [first_msg] + consume_(num_messages=9999, timeout=0) if first_msg is not None else []
        if not ready_said:
            # The first round trip happened (assignment done, first fetch answered or waiting).
            sys.stderr.write("ready\n")
            sys.stderr.flush()
            ready_said = True
        if not msgs:
            continue
        now = wall()
        if first is None:
            first = time.perf_counter()
            first_cpu = time.process_time()
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF and len(problems) < 10:
                    problems.append("consumer error: %s" % err)
                continue
            p = m.partition()
            o = m.offset()
            if o != next_offset[p]:
                if len(problems) < 10:
                    problems.append("partition %d: offset %d where %d was expected" % (p, o, next_offset[p]))
            next_offset[p] = o + 1
            counts[p] += 1
            v = m.value()
            nbytes += len(v)
            if e2e_on and len(v) > 8:
                e2e.append((now - unpack(v)[0]) * 1000.0)
        total += len(msgs)
        last = time.perf_counter()
        last_cpu = time.process_time()
    # Anything more than expected (duplicates) shows up within a short grace period.
    if not problems:
        extra = c.consume(num_messages=1000, timeout=0.5)
        extra = [m for m in extra if m.error() is None]
        if extra:
            problems.append("%d records beyond the %d expected" % (len(extra), expect[0]))
    c.close()
    if total != expect[0] and not problems:
        problems.append("read %d records, expected %d" % (total, expect[0]))
    seconds = (last - first) if (first is not None and last is not None and last > first) else 0.0
    out = {
        "records": total,
        "expected": expect[0],
        "bytes": nbytes,
        "seconds": round(seconds, 4),
        "recordsPerSec": round(total / seconds, 1) if seconds > 0 else None,
        "MBps": round(nbytes / seconds / 1e6, 3) if seconds > 0 else None,
        "perPartition": counts,
        "e2eMs": percentiles(e2e) if e2e_on else None,
        "cpuSeconds": round(last_cpu - first_cpu, 3) if seconds > 0 else None,
        "problems": problems,
        "clientErrors": errors,
    }
    print(json.dumps(out))
    return 1 if problems else 0


def admin(args):
    from confluent_kafka.admin import AdminClient, NewTopic

    a = AdminClient({"bootstrap.servers": args.bootstrap})
    topics = []
    for spec in args.topic:
        # NAME:PARTITIONS[:key=value,key=value]
        name, _, rest = spec.partition(":")
        parts, _, conf = rest.partition(":")
        config = dict(kv.split("=", 1) for kv in conf.split(",") if kv)
        topics.append(NewTopic(name, num_partitions=int(parts), replication_factor=1, config=config))
    futures = a.create_topics(topics, operation_timeout=60, request_timeout=60)
    for f in futures.values():
        f.result(120)
    print(json.dumps({"created": [t.topic for t in topics]}))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    pp = sub.add_parser("produce")
    pp.add_argument("--bootstrap", default="")
    pp.add_argument("--topic", required=True)
    pp.add_argument("--seconds", type=float, default=10)
    pp.add_argument("--count", type=int, default=0)
    pp.add_argument("--size", type=int, default=1024)
    pp.add_argument("--rate", type=float, default=0)
    pp.add_argument("--sample", type=int, default=0)
    pp.add_argument("--mock", action="store_true")
    pp.add_argument("--prefill", type=int, default=0, help="before measuring, one record into each of partitions 0..N-1")
    pp.add_argument("--config", action="append")
    pp.add_argument("--keys", type=int, default=0, help="keyed records: key i %% N (compacted topics refuse records without one)")
    pp.add_argument("--transaction-records", type=int, default=0, help="a transactional producer, N records per transaction")
    cp = sub.add_parser("consume")
    cp.add_argument("--bootstrap", required=True)
    cp.add_argument("--topic", required=True)
    cp.add_argument("--partitions", type=int, required=True)
    cp.add_argument("--expect", type=int, required=True)
    cp.add_argument("--e2e", action="store_true")
    cp.add_argument("--ready", action="store_true")
    cp.add_argument("--timeout", type=float, default=120)
    cp.add_argument("--config", action="append")
    ap_ = sub.add_parser("admin")
    ap_.add_argument("--bootstrap", required=True)
    ap_.add_argument("--topic", action="append", required=True, help="NAME:PARTITIONS[:key=value,...]")
    args = ap.parse_args()
    if args.mode == "produce" and args.transaction_records > 0:
        return produce_transactions(args)
    return {"produce": produce, "consume": consume, "admin": admin}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
