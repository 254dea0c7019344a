"""confluent-kafka (librdkafka) transactions driver for Floe's tests. Prints one JSON object on stdout.

Usage: confluent_transactions.py BOOTSTRAP COMMAND TOPIC [K=V,...]
  outcomes TOPIC [CONFIGS]   admin-create TOPIC (2 partitions, these topic configs); a transactional producer
                             commits, aborts and commits transactions of keyed records over both partitions;
                             read_committed and read_uncommitted consumers read everything; then a transaction
                             is left open and a read_committed consumer reads (it must stop at the last stable
                             offset), ListOffsets latest is asked at both isolation levels, a second producer
                             with the same transactional.id fences the first, whose commit must fail, and a
                             read_committed consumer reads again (the open transaction was aborted).
  ctp TOPIC [CONFIGS]        (env GROUP_PROTOCOL=consumer: a KIP-848 group) consume-transform-produce: TOPIC-in gets 60 records (plain producer), a loop reads
                             them in a group, and for every 10 writes their upper-cased values to TOPIC-out and
                             sends the offsets to the transaction; every other transaction is aborted once and
                             redone. Reports what TOPIC-out holds (read_committed) and the group's offsets.
  compact TOPIC [CONFIGS]    admin-create TOPIC (1 partition, these topic configs, meant compacted); 5 rounds of: a
                             transactional producer commits one update of keys k0..k9 (values c-R-kK), aborts another
                             (a-R-kK), then an idempotent plain producer updates k0..k4 (p-R-kK); then an aborted
                             update of k0..k9 (a-5-kK), a committed one of k5..k9 (c-5-kK); after segment.ms
                             (config) one plain record f-0-filler. Reports every
                             delivered [offset, value] (aborted ones included) and delivery errors.
  read TOPIC                 partition 0 read from offset 0 by a read_committed and a read_uncommitted consumer.
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create(bootstrap, topic, partitions, config):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config)]).values():
        f.result(30)


def read_all(bootstrap, topic, partitions, isolation, idle_s=3.0, max_s=30.0):
    """Values by partition (in offset order) until nothing new came for idle_s seconds."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.time()}", "isolation.level": isolation,
                  "enable.auto.commit": False, "fetch.wait.max.ms": 200})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = {str(p): [] for p in range(partitions)}
    last = time.time()
    start = time.time()
    while time.time() - last < idle_s and time.time() - start < max_s:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        got[str(m.partition())].append([m.offset(), m.value().decode()])
        last = time.time()
    c.close()
    return got


def latest(bootstrap, topic, partition, isolation):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "latest", "isolation.level": isolation})
    # offsets_for_times with -1 asks ListOffsets latest at the consumer's isolation level.
    off = c.offsets_for_times([TopicPartition(topic, partition, -1)], timeout=10)[0].offset
    c.close()
    return off


def outcomes(bootstrap, topic, config):
    create(bootstrap, topic, 2, config)
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{topic}", "linger.ms": 5})
    p.init_transactions(30)
    timings = []

    def txn(tag, n, commit):
        p.begin_transaction()
        for i in range(n):
            p.produce(topic, key=f"{tag}-{i}", value=f"{tag}-{i}", partition=i % 2)
        p.flush(30)
        t0 = time.time()
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
        timings.append(round(time.time() - t0, 3))

    txn("a", 10, True)
    txn("b", 6, False)
    txn("c", 10, True)
    committed = read_all(bootstrap, topic, 2, "read_committed")
    uncommitted = read_all(bootstrap, topic, 2, "read_uncommitted")

    # An open transaction: read_committed stops at its first offset.
    p.begin_transaction()
    for i in range(4):
        p.produce(topic, key=f"open-{i}", value=f"open-{i}", partition=0)
    p.flush(30)
    time.sleep(0.5)
    while_open = read_all(bootstrap, topic, 2, "read_committed", idle_s=2.0)
    latest_open = {"read_committed": latest(bootstrap, topic, 0, "read_committed"),
                   "read_uncommitted": latest(bootstrap, topic, 0, "read_uncommitted")}

    # Fencing: a second producer with the same id aborts the open transaction; the first cannot commit it.
    p2 = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{topic}"})
    p2.init_transactions(30)
    fenced = None
    try:
        p.commit_transaction(10)
    except KafkaException as e:
        fenced = e.args[0].name()
    p2.begin_transaction()
    p2.produce(topic, key="d-0", value="d-0", partition=1)
    p2.commit_transaction(30)
    after = read_all(bootstrap, topic, 2, "read_committed")
    latest_after = latest(bootstrap, topic, 0, "read_committed")
    return {"committed": committed, "uncommitted": uncommitted, "while_open": while_open, "latest_open": latest_open,
            "fenced": fenced, "after": after, "latest_after": latest_after, "end_txn_s": timings}


def ctp(bootstrap, topic, config):
    src, dst, group = f"{topic}-in", f"{topic}-out", f"{topic}-group"
    create(bootstrap, src, 2, config)
    create(bootstrap, dst, 2, config)
    plain = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(60):
        plain.produce(src, value=f"v{i}", partition=i % 2)
    plain.flush(30)

    settings = {"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    # GROUP_PROTOCOL=consumer: a KIP-848 group (librdkafka 2.4+), whose member epoch TxnOffsetCommit checks.
    if os.environ.get("GROUP_PROTOCOL"):
        settings["group.protocol"] = os.environ["GROUP_PROTOCOL"]
    c = Consumer(settings)
    c.subscribe([src])
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"ctp-{topic}", "linger.ms": 5})
    p.init_transactions(30)
    done, aborted, n_txn, batch = 0, 0, 0, []
    deadline = time.time() + 90
    while done < 60 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            batch.append(m)
        if len(batch) < 10 and not (batch and m is None):
            continue
        p.begin_transaction()
        for x in batch:
            p.produce(dst, value=x.value().decode().upper(), partition=x.partition())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        if n_txn % 2 == 1 and aborted < 3:
            # Abort once, rewind, and do it again.
            p.abort_transaction(30)
            aborted += 1
            for tp in c.committed(c.assignment(), 10):
                c.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
            batch = []
            n_txn += 1
            continue
        p.commit_transaction(30)
        done += len(batch)
        batch = []
        n_txn += 1
    committed_offsets = {str(tp.partition): tp.offset for tp in c.committed([TopicPartition(src, 0), TopicPartition(src, 1)], 10)}
    c.close()
    out = read_all(bootstrap, dst, 2, "read_committed")
    return {"out": out, "offsets": committed_offsets, "aborted": aborted, "transactions": n_txn}


def compact(bootstrap, topic, config):
    create(bootstrap, topic, 1, config)
    delivered, errors = [], []

    def on_delivery(err, msg):
        if err is None:
            delivered.append([msg.offset(), msg.value().decode()])
        else:
            errors.append(str(err))

    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"cmp-{topic}", "linger.ms": 5})
    p.init_transactions(30)
    plain = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})

    def txn(tag, keys, commit):
        p.begin_transaction()
        for k in keys:
            p.produce(topic, key=f"k{k}", value=f"{tag}-k{k}", partition=0, on_delivery=on_delivery)
        p.flush(30)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)

    for r in range(5):
        txn(f"c-{r}", range(10), True)
        txn(f"a-{r}", range(10), False)
        for k in range(5):
            plain.produce(topic, key=f"k{k}", value=f"p-{r}-k{k}", partition=0, on_delivery=on_delivery)
        plain.flush(30)
    txn("a-5", range(10), False)
    txn("c-5", range(5, 10), True)
    time.sleep(int(config.get("segment.ms", "0")) / 1000 + 0.3)
    plain.produce(topic, key="filler", value="f-0-filler", partition=0, on_delivery=on_delivery)
    plain.flush(30)
    return {"delivered": sorted(delivered), "errors": errors}


def read(bootstrap, topic, config):
    return {"committed": read_all(bootstrap, topic, 1, "read_committed", idle_s=2.0)["0"],
            "uncommitted": read_all(bootstrap, topic, 1, "read_uncommitted", idle_s=2.0)["0"]}


def main():
    bootstrap, command, topic = sys.argv[1:4]
    config = dict(kv.split("=", 1) for kv in sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[4] else {}
    result = {"outcomes": outcomes, "ctp": ctp, "compact": compact, "read": read}[command](bootstrap, topic, config)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
