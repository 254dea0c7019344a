"""confluent-kafka (librdkafka) driver for Floe's client tests. Prints one JSON object on stdout.

Usage: confluent_client.py BOOTSTRAP COMMAND TOPIC [ARGS...]
  roundtrip TOPIC COUNT COMPRESSION [K=V,...]
                                      admin-create the topic (3 partitions, with these topic configs),
                                      produce COUNT keyed messages with headers (acks=all), consume every
                                      partition by assign() from the beginning to the end, and report what
                                      was produced and consumed.
  produce TOPIC COUNT                 produce until COUNT acked or killed; prints a JSON line per ack batch.
  consume TOPIC                       consume every partition from the beginning to its end.
  admin TOPIC                         AdminClient calls: create (validate_only and real), describe, create
                                      partitions, alter configs, list groups, delete;
                                      a classic topic (diskless.enable=false), and one with replication 3.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic


def admin_create(bootstrap, topic, partitions=3, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})])
    for f in futures.values():
        f.result(30)
    return admin


def produce(bootstrap, topic, count, compression="none", on_ack=None):
    acked = []
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
            return
        entry = {"p": msg.partition(), "o": msg.offset(), "k": msg.key().decode(), "v": msg.value().decode()}
        acked.append(entry)
        if on_ack:
            on_ack(entry)

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": compression,
                  "linger.ms": 5, "message.timeout.ms": 30000})
    for i in range(count):
        while True:
            try:
                p.produce(topic, key=f"key-{i}", value=f"value-{i}", headers=[("h", f"header-{i}".encode())],
                          partition=i % 3, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    p.flush(60)
    return acked, errors


def consume_all(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-test-unused", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    md = c.list_topics(topic, timeout=10).topics[topic]
    parts = sorted(md.partitions.keys())
    ends = {}
    for p in parts:
        low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = high
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out = []
    done = {p for p in parts if ends[p] == 0}
    deadline = time.time() + 120
    while len(done) < len(parts) and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if m.offset() >= ends[m.partition()]:
                    done.add(m.partition())
                continue
            raise Exception(str(m.error()))
        headers = dict((k, v.decode()) for k, v in (m.headers() or []))
        out.append({"p": m.partition(), "o": m.offset(), "k": m.key().decode() if m.key() else None,
                    "v": m.value().decode() if m.value() else None, "h": headers.get("h")})
    c.close()
    return out, ends


def main():
    bootstrap, command, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    if command == "roundtrip":
        count, compression = int(sys.argv[4]), sys.argv[5]
        config = dict(kv.split("=", 1) for kv in sys.argv[6].split(",")) if len(sys.argv) > 6 and sys.argv[6] else {}
        admin_create(bootstrap, topic, config=config)
        acked, errors = produce(bootstrap, topic, count, compression)
        consumed, ends = consume_all(bootstrap, topic)
        print(json.dumps({"acked": acked, "errors": errors, "consumed": consumed, "ends": ends}))
    elif command == "produce":
        count = int(sys.argv[4])
        def on_ack(entry):
            print(json.dumps(entry), flush=True)
        produce(bootstrap, topic, count, "none", on_ack)
    elif command == "consume":
        consumed, ends = consume_all(bootstrap, topic)
        print(json.dumps({"consumed": consumed, "ends": ends}))
    elif command == "admin":
        admin = AdminClient({"bootstrap.servers": bootstrap})
        result = {}
        f = admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)], validate_only=True)
        f[topic].result(30)
        result["validate_only_exists"] = topic in admin.list_topics(timeout=10).topics
        admin_create(bootstrap, topic, 2, {"retention.ms": "3600000"})
        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = admin.describe_configs([res])[res].result(30)
        result["retention.ms"] = configs["retention.ms"].value
        result["retention.ms.source"] = int(configs["retention.ms"].source)
        result["diskless.enable"] = configs["diskless.enable"].value
        try:
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
            result["duplicate"] = "created"
        except Exception as e:  # noqa: BLE001 - we report the Kafka error name
            result["duplicate"] = e.args[0].name()
        try:
            admin.create_topics([NewTopic("bad/name", num_partitions=1, replication_factor=1)])["bad/name"].result(30)
            result["bad_name"] = "created"
        except Exception as e:  # noqa: BLE001
            result["bad_name"] = e.args[0].name()
        try:
            admin.create_topics([NewTopic(topic + "-c", num_partitions=1, replication_factor=1,
                                          config={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "1.5"})])[topic + "-c"].result(30)
            result["compact"] = "created"
        except Exception as e:  # noqa: BLE001
            result["compact"] = e.args[0].name()
        admin_create(bootstrap, topic + "-classic", 1, {"diskless.enable": "false"})
        classic = ConfigResource(ConfigResource.Type.TOPIC, topic + "-classic")
        result["classic.diskless.enable"] = admin.describe_configs([classic])[classic].result(30)["diskless.enable"].value
        try:
            admin.create_topics([NewTopic(topic + "-rf3", num_partitions=1, replication_factor=3,
                                          config={"diskless.enable": "false"})])[topic + "-rf3"].result(30)
            result["classic_rf3"] = "created"
        except Exception as e:  # noqa: BLE001
            result["classic_rf3"] = e.args[0].name()
            result["classic_rf3_message"] = e.args[0].str()
        admin.create_partitions([NewPartitions(topic, 4)])[topic].result(30)
        result["partitions_after_create_partitions"] = len(admin.list_topics(timeout=10).topics[topic].partitions)
        altered = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "7200000"})
        admin.alter_configs([altered])[altered].result(30)
        result["retention.ms.altered"] = admin.describe_configs([res])[res].result(30)["retention.ms"].value
        result["list_groups_error"] = None
        try:
            admin.list_groups(timeout=10)
        except Exception as e:  # noqa: BLE001
            result["list_groups_error"] = str(e)
        admin.delete_topics([topic])[topic].result(30)
        result["after_delete_exists"] = topic in admin.list_topics(timeout=10).topics
        print(json.dumps(result))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
