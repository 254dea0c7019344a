"""confluent-kafka (librdkafka) group member for Floe's client tests. Prints JSON lines on stdout.

Usage: confluent_group_client.py BOOTSTRAP GROUP TOPIC SESSION_TIMEOUT_MS [sync]
  Subscribes to TOPIC in GROUP (range assignor, auto commit every 100 ms of the offsets of printed
  messages, from the earliest offset; with `sync`, no auto commit: each chunk of printed messages is
  committed synchronously and {"event": "committed", "offsets": {partition: offset}} printed once the
  commit is acknowledged, {"event": "commit_failed", "error": ...} if it is not) and
  prints {"event": "assign"|"revoke", "partitions": [...]} on every rebalance and
  {"event": "msgs", "values": [...]} for what it consumed (in chunks). On SIGTERM it closes the consumer
  (committing its offsets and leaving the group) and prints {"event": "closed"}.
"""
import json
import signal
import sys

from confluent_kafka import Consumer, KafkaException, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    bootstrap, group, topic, session = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sync = len(sys.argv) > 5 and sys.argv[5] == "sync"
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": "confluent-group-test",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": not sync,
        # Offsets are stored only once the values are printed, so a member stopped in between never has
        # offsets committed for messages the test did not see.
        "enable.auto.offset.store": False,
        "auto.commit.interval.ms": 100,
        "session.timeout.ms": session,
        "heartbeat.interval.ms": 100,
        "partition.assignment.strategy": "range",
        "topic.metadata.refresh.interval.ms": 1000,
        "fetch.wait.max.ms": 100,
    })

    values = []
    positions = {}

    def flush():
        if values:
            emit({"event": "msgs", "values": values})
            offsets = [TopicPartition(topic, p, o) for p, o in positions.items()]
            try:
                c.store_offsets(offsets=offsets)
            except KafkaException:
                pass  # a partition no longer assigned: its next owner reads these messages again
            if sync:
                try:
                    done = c.commit(offsets=offsets, asynchronous=False)
                    emit({"event": "committed", "offsets": {str(tp.partition): tp.offset for tp in done if tp.error is None}})
                except KafkaException as e:
                    emit({"event": "commit_failed", "error": str(e.args[0])})
            del values[:]
            positions.clear()

    def on_assign(consumer, partitions):
        emit({"event": "assign", "partitions": sorted(p.partition for p in partitions)})

    def on_revoke(consumer, partitions):
        flush()  # while the partitions are still ours, so their offsets can be stored and committed
        emit({"event": "revoke", "partitions": sorted(p.partition for p in partitions)})

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)

    while running[0]:
        m = c.poll(0.1)
        if m is not None and not m.error():
            values.append(m.value().decode())
            positions[m.partition()] = m.offset() + 1
        if m is None or len(values) >= 200:
            flush()
    flush()
    c.close()
    emit({"event": "closed"})


if __name__ == "__main__":
    main()
