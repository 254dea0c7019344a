"""A KIP-848 consumer group member (group.protocol=consumer) on a modern librdkafka, for Floe's client
tests. Needs confluent-kafka on librdkafka >= 2.12 (LD_LIBRARY_PATH pointing at one; test/helpers/
librdkafka.ts builds it). Prints JSON lines on stdout.

Usage: kip848_client.py BOOTSTRAP GROUP TOPIC [ASSIGNOR]
  Subscribes to TOPIC in GROUP with the consumer protocol (the broker assigns partitions; ASSIGNOR is
  group.remote.assignor, default the broker's), auto commit every 100 ms of the offsets of printed
  messages, from the earliest offset. Prints {"event": "assigned", "partitions": [...]} with the whole
  assignment after every incremental change, and {"event": "msgs", "values": [...]} for what it consumed
  (in chunks). On SIGTERM it closes the consumer (committing and leaving the group) and prints
  {"event": "closed"}. With FLOE_GROUP_PROTOCOL=classic in the environment it is a classic-protocol member
  instead (range assignor, chosen by the group leader; eager: everything is revoked at each rebalance).
"""
import os
import json
import signal
import sys

from confluent_kafka import Consumer, KafkaException, TopicPartition


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    bootstrap, group, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "client.id": "kip848-test",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        # Offsets are stored only once the values are printed, so a member stopped in between never has
        # offsets committed for messages the test did not see.
        "enable.auto.offset.store": False,
        "auto.commit.interval.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
        "fetch.wait.max.ms": 100,
    }
    if len(sys.argv) > 4:
        conf["group.remote.assignor"] = sys.argv[4]
    if os.environ.get("FLOE_GROUP_PROTOCOL") == "classic":
        conf["group.protocol"] = "classic"
        conf["partition.assignment.strategy"] = "range"
        conf["heartbeat.interval.ms"] = 500
        conf["session.timeout.ms"] = 6000

    def on_commit(err, partitions):
        # What the group coordinator acknowledged (or refused), so a test can tell a commit lost by the
        # broker from one the client never had acknowledged.
        emit({"event": "commit", "error": str(err) if err else None,
              "offsets": [[p.partition, p.offset, str(p.error) if p.error else None] for p in partitions]})

    conf["on_commit"] = on_commit
    c = Consumer(conf)

    values = []
    at = []  # "partition:offset" of each value, so a test can name the gaps in what was consumed
    positions = {}
    assigned = set()

    def flush():
        if values:
            emit({"event": "msgs", "values": values, "at": at})
            try:
                c.store_offsets(offsets=[TopicPartition(topic, p, o) for p, o in positions.items()])
            except KafkaException:
                pass  # a partition no longer assigned: its next owner reads these messages again
            del values[:]
            del at[:]
            positions.clear()

    def on_assign(consumer, partitions):
        assigned.update(p.partition for p in partitions)
        emit({"event": "assigned", "partitions": sorted(assigned)})

    def on_revoke(consumer, partitions):
        flush()  # while the partitions are still ours, so their offsets can be stored and committed
        assigned.difference_update(p.partition for p in partitions)
        emit({"event": "assigned", "partitions": sorted(assigned)})

    def on_lost(consumer, partitions):
        assigned.difference_update(p.partition for p in partitions)
        emit({"event": "lost", "partitions": sorted(p.partition for p in partitions)})
        emit({"event": "assigned", "partitions": sorted(assigned)})

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    while running[0]:
        m = c.poll(0.1)
        if m is not None and m.error():
            emit({"event": "error", "error": str(m.error())})
        elif m is not None:
            if m.partition() in assigned:
                values.append(m.value().decode())
                at.append(f"{m.partition()}:{m.offset()}")
                positions[m.partition()] = m.offset() + 1
            else:
                emit({"event": "dropped", "at": f"{m.partition()}:{m.offset()}"})
        if m is None or len(values) >= 200:
            flush()
    flush()
    c.close()
    emit({"event": "closed"})


if __name__ == "__main__":
    main()
