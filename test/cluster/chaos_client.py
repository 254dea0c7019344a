"""confluent-kafka (librdkafka) drivers for test/cluster/chaos.test.ts. Each prints JSON lines on stdout.

  chaos_client.py produce BOOTSTRAP TOPIC NAME PARTITIONS RATE CLIENT_ID
      An idempotent producer (enable.idempotence, acks=all) sending RATE messages a second until SIGTERM,
      value and key "<NAME>-<seq>" (seq 0, 1, 2, ...), message seq to partition seq % PARTITIONS, so each
      producer writes every partition in seq order. Prints, in chunks,
      {"e": "acks", "m": [[value, partition, offset, sent_at, acked_at], ...]} for the delivery reports
      without error and {"e": "errs", "m": [[value, error, sent_at, failed_at], ...]} for the others,
      {"e": "fatal", "error": ...} on a fatal error, and on SIGTERM waits for every delivery report (flush)
      and prints {"e": "done", "sent": N, "unflushed": M}. Times are time.time() seconds.

  chaos_client.py consume BOOTSTRAP GROUP TOPIC CLIENT_ID
      A consumer-group member (auto commit of the offsets of printed messages) until SIGTERM. Prints
      {"e": "assign"|"revoke", "partitions": [...]} on rebalances, {"e": "msgs", "m": [[value, partition,
      offset], ...]} for what it consumed, {"e": "closed"} once closed (offsets committed, group left).

  chaos_client.py read BOOTSTRAP TOPIC PARTITIONS
      Reads every partition from offset 0 to its high watermark with assign() (no group) and prints one
      line {"ends": {p: high}, "read": {p: [[offset, value], ...]}, "errors": [...]}.
"""
import json
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# Settings that ride out broker kills, PostgreSQL restarts and object-store outages: keep retrying for two
# minutes, reconnect fast, and refresh metadata often so that a killed broker's partitions move quickly.
RESILIENT = {
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
    "topic.metadata.refresh.interval.ms": 1000,
    "metadata.max.age.ms": 5000,
    "socket.timeout.ms": 10000,
    "socket.connection.setup.timeout.ms": 5000,
}


def produce(bootstrap, topic, name, partitions, rate, client_id):
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    acks, errs = [], []
    sent_at = {}

    def on_error(err):
        if err.fatal():
            emit({"e": "fatal", "error": str(err)})

    def report(err, msg):
        now = time.time()
        value = msg.value().decode()
        at = sent_at.pop(value, 0.0)
        if err is not None:
            errs.append([value, str(err), at, now])
        else:
            acks.append([value, msg.partition(), msg.offset(), at, now])

    p = Producer({
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 5,
        "message.timeout.ms": 120000,
        "request.timeout.ms": 10000,
        "retry.backoff.ms": 100,
        "error_cb": on_error,
        **RESILIENT,
    })

    def drain():
        if acks:
            emit({"e": "acks", "m": acks[:]})
            del acks[:]
        if errs:
            emit({"e": "errs", "m": errs[:]})
            del errs[:]

    seq = 0
    start = time.time()
    last_drain = start
    while running[0]:
        due = start + seq / rate
        now = time.time()
        if now < due:
            p.poll(min(due - now, 0.05))
        else:
            value = f"{name}-{seq}"
            try:
                sent_at[value] = now
                p.produce(topic, key=value, value=value, partition=seq % partitions, on_delivery=report)
                seq += 1
            except BufferError:
                p.poll(0.05)
            p.poll(0)
        if time.time() - last_drain >= 0.2:
            drain()
            last_drain = time.time()
    remaining = p.flush(90)
    drain()
    emit({"e": "done", "sent": seq, "unflushed": remaining})


def consume(bootstrap, group, topic, client_id):
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        # Offsets are stored only once the messages are printed: a member killed in between never has
        # offsets committed for messages the test did not see.
        "enable.auto.offset.store": False,
        "auto.commit.interval.ms": 200,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": "range",
        "fetch.wait.max.ms": 200,
        **RESILIENT,
    })

    def on_assign(consumer, parts):
        emit({"e": "assign", "partitions": sorted(tp.partition for tp in parts)})

    def on_revoke(consumer, parts):
        emit({"e": "revoke", "partitions": sorted(tp.partition for tp in parts)})

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    errors = 0
    while running[0]:
        msgs = c.consume(500, 0.2)
        out = []
        positions = {}
        for m in msgs:
            if m.error():
                errors += 1
                if errors <= 20:
                    emit({"e": "error", "error": str(m.error())})
                continue
            out.append([m.value().decode(), m.partition(), m.offset()])
            positions[m.partition()] = m.offset() + 1
        if out:
            emit({"e": "msgs", "m": out})
            try:
                c.store_offsets(offsets=[TopicPartition(topic, p, o) for p, o in positions.items()])
            except KafkaException:
                pass  # a partition no longer assigned: its next owner reads these messages again
    c.close()
    emit({"e": "closed"})


def read(bootstrap, topic, partitions):
    began = time.time()

    def took(what):
        sys.stderr.write(f"read: {what} after {time.time() - began:.1f} s\n")

    # A cold read costs the broker one object-store GET per run of batches (the log is spread over hundreds
    # of small objects): small fetches, each well within the request timeout.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-chaos-reader-unused", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest", **RESILIENT,
                  "max.partition.fetch.bytes": 16384, "socket.timeout.ms": 60000})
    ends = {}
    errors = []
    for part in range(partitions):
        ends[part] = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)[1]
    took("watermarks")
    c.assign([TopicPartition(topic, part, 0) for part in range(partitions)])
    got = {part: [] for part in range(partitions)}
    done = {part for part in range(partitions) if ends[part] == 0}
    deadline = time.time() + 35
    while len(done) < partitions and time.time() < deadline:
        for m in c.consume(1000, 0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    if m.offset() >= ends[m.partition()]:
                        done.add(m.partition())
                    continue
                errors.append(str(m.error()))
                continue
            if m.offset() < ends[m.partition()]:
                got[m.partition()].append([m.offset(), m.value().decode()])
    took("records")
    c.close()
    took("closed")
    emit({"ends": ends, "read": got, "errors": errors[:20], "complete": len(done) == partitions})


def main():
    mode = sys.argv[1]
    if mode == "produce":
        produce(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]), sys.argv[7])
    elif mode == "consume":
        consume(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "read":
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
