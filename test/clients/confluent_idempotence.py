"""librdkafka's idempotent producer against Floe, for test/clients/idempotence.test.ts. Prints one JSON object.

Usage: confluent_idempotence.py BOOTSTRAP TOPIC PARTITIONS COUNT [PRODUCER_CONFIG_JSON]
  Creates the topic, produces COUNT messages with enable.idempotence (5 requests in flight per connection),
  value "<partition>-<n>" with n counting per partition in send order, waits for every delivery report, then
  reads every partition from the beginning to its end. Reports the delivery errors, the values read per
  partition in offset order, and librdkafka's idempotence statistics. PRODUCER_CONFIG_JSON overrides producer
  settings (e.g. a short request.timeout.ms, so that requests time out at the client and are retried).
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    overrides = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        f.result(30)

    errors = []
    fatal = []
    acked = [0]
    stats = {}

    def on_error(err):
        if err.fatal():
            fatal.append(str(err))

    def on_stats(text):
        s = json.loads(text)
        stats["eos"] = s.get("eos")

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[0] += 1

    p = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 2,
        "batch.num.messages": 10,
        "retry.backoff.ms": 20,
        "message.timeout.ms": 120000,
        "error_cb": on_error,
        "stats_cb": on_stats,
        "statistics.interval.ms": 1000,
        **overrides,
    })
    sent = [0] * partitions
    for i in range(count):
        part = i % partitions
        value = f"{part}-{sent[part]}"
        sent[part] += 1
        while True:
            try:
                p.produce(topic, value=value, partition=part, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        if i % 50 == 0:
            p.poll(0)
    remaining = p.flush(150)
    time.sleep(1.1)
    p.poll(0)

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-idempotence-unused", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    ends = {}
    for part in range(partitions):
        ends[part] = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)[1]
    c.assign([TopicPartition(topic, part, 0) for part in range(partitions)])
    read = {part: [] for part in range(partitions)}
    done = {part for part in range(partitions) if ends[part] == 0}
    deadline = time.time() + 120
    while len(done) < partitions and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if m.offset() >= ends[m.partition()]:
                    done.add(m.partition())
                continue
            raise Exception(str(m.error()))
        read[m.partition()].append(m.value().decode())
    c.close()
    print(json.dumps({"sent": sent, "acked": acked[0], "unflushed": remaining, "errors": errors[:20],
                      "error_count": len(errors), "fatal": fatal, "read": read, "ends": ends, "eos": stats.get("eos")}))


if __name__ == "__main__":
    main()
