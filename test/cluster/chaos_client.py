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

  chaos_client.py transform BOOTSTRAP GROUP IN_TOPIC OUT_TOPIC TRANSACTIONAL_ID CLIENT_ID
      Consume-transform-produce with exactly-once semantics, as Kafka's EOS guidance has it: a consumer in GROUP
      (isolation.level=read_committed, no auto commit) reads IN_TOPIC; a transactional producer writes, for each
      input record, "<value>|<partition>|<offset>" to the same partition of OUT_TOPIC and commits the consumed
      offsets with send_offsets_to_transaction in the same transaction (every 300 ms or 2,000 records; every 10th
      transaction is aborted on purpose and redone). On an abortable error the transaction is aborted and the
      consumer rewound to the group's committed offsets; on a fatal one (fenced) the producer is re-created
      (init_transactions with the same id) and the consumer rewound; a rebalance aborts the open transaction.
      Prints {"e": "txn", "n": records, "offsets": {p: next offset}} per commit, {"e": "abort", "why": ...},
      {"e": "recreate", "why": ...}, {"e": "assign"|"revoke", ...}; on SIGTERM it goes on until its committed
      offsets reach IN_TOPIC's high watermarks (the producers stopped first), closes and prints
      {"e": "done", "drained": bool, "committed": {p: offset}, "transactions": N, "aborted": N, "recreated": N}.

  chaos_client.py read BOOTSTRAP TOPIC PARTITIONS [ISOLATION]
      Reads every partition from offset 0 to its high watermark with assign() (no group) and prints one
      line {"ends": {p: high}, "read": {p: [[offset, value], ...]}, "errors": [...]}. With ISOLATION
      read_committed it reads committed records only, and a partition is complete only once its last stable
      offset reached the high watermark (no transaction left open).
"""
import json
import signal
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition


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
        # The idempotence state machine's log (drains, epoch bumps, sequence errors: a few lines per fault), so
        # that a failed run tells the client's side of a sequence error.
        "debug": "eos",
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


class Restart(Exception):
    """The producer must be re-created (a fatal error, such as being fenced)."""


def transform(bootstrap, group, in_topic, out_topic, transactional_id, client_id):
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    stats = {"transactions": 0, "aborted": 0, "recreated": 0}
    state = {"producer": None, "in_txn": False, "pending": {}, "n": 0}

    def new_producer():
        config = {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "transactional.id": transactional_id,
            "transaction.timeout.ms": 30000,
            "linger.ms": 5,
            "request.timeout.ms": 10000,
            "retry.backoff.ms": 100,
            **RESILIENT,
        }
        p = Producer(config)
        while True:
            try:
                p.init_transactions(30)
                return p
            except KafkaException as e:
                err = e.args[0]
                emit({"e": "retry", "op": "init", "error": str(err)})
                if err.fatal():
                    p = Producer(config)
                time.sleep(0.2)

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 200,
        **RESILIENT,
    })

    def call(op, fn):
        """Runs a transactional call, again while its error is retriable; raises otherwise."""
        while True:
            try:
                return fn()
            except KafkaException as e:
                err = e.args[0]
                if err.fatal():
                    raise Restart(f"{op}: {err}")
                if err.retriable() and not err.txn_requires_abort():
                    emit({"e": "retry", "op": op, "error": str(err)})
                    time.sleep(0.1)
                    continue
                raise

    def rewind():
        """Back to the group's committed offsets: what the aborted transaction consumed is read again."""
        while True:
            parts = c.assignment()
            if not parts:
                return  # unassigned: the next assignment starts at the committed offsets anyway
            try:
                for tp in c.committed(parts, 10):
                    c.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))
                return
            except KafkaException as e:
                emit({"e": "retry", "op": "rewind", "error": str(e.args[0])})
                time.sleep(0.2)

    def recreate(why):
        stats["recreated"] += 1
        emit({"e": "recreate", "why": why})
        state["producer"] = None  # the fenced instance is dropped (and destroyed)
        state["producer"] = new_producer()

    def abort(why, rewinding=True, force=False):
        """Aborts the open transaction (re-creating the producer if it cannot) and rewinds the consumer."""
        if state["in_txn"] or force:
            stats["aborted"] += 1
            emit({"e": "abort", "why": why})
            try:
                call("abort", lambda: state["producer"].abort_transaction(30))
            except (Restart, KafkaException) as e:
                recreate(f"abort failed: {e}")
        state["in_txn"] = False
        state["pending"] = {}
        state["n"] = 0
        if rewinding:
            rewind()

    def on_assign(consumer, parts):
        emit({"e": "assign", "partitions": sorted(tp.partition for tp in parts)})

    def on_revoke(consumer, parts):
        # What the open transaction consumed from these partitions must not be committed by this member: the
        # next owner reads it again from the committed offsets.
        emit({"e": "revoke", "partitions": sorted(tp.partition for tp in parts)})
        abort("rebalance", rewinding=False)

    c.subscribe([in_topic], on_assign=on_assign, on_revoke=on_revoke)
    state["producer"] = new_producer()

    def commit():
        p = state["producer"]
        offsets = [TopicPartition(in_topic, part, o) for part, o in sorted(state["pending"].items())]
        try:
            call("send_offsets", lambda: p.send_offsets_to_transaction(offsets, c.consumer_group_metadata(), 30))
            if (stats["transactions"] + stats["aborted"]) % 10 == 9:
                abort("on purpose")
                return
            call("commit", lambda: p.commit_transaction(30))
        except Restart as e:
            # The transaction is aborted (by the fencing InitProducerId) or was committed before the error:
            # either way the group's committed offsets say where to go on.
            stats["aborted"] += 1
            emit({"e": "abort", "why": str(e)})
            state["in_txn"] = False
            recreate(str(e))
            rewind()
            return
        except KafkaException as e:
            abort(str(e.args[0]))
            return
        stats["transactions"] += 1
        emit({"e": "txn", "n": state["n"], "offsets": {str(k): v for k, v in state["pending"].items()}})
        state["in_txn"] = False
        state["pending"] = {}
        state["n"] = 0

    def drained():
        parts = c.assignment()
        if not parts or state["in_txn"]:
            return False
        try:
            committed = c.committed(parts, 10)
            return all(tp.offset >= c.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in committed)
        except KafkaException:
            return False

    started = 0.0
    stopping_since = None
    done = False
    while True:
        if not running[0] and stopping_since is None:
            stopping_since = time.time()
        if stopping_since is not None and time.time() - stopping_since > 45:
            break
        # One message a poll: a rebalance callback runs before the messages of the new assignment, so none
        # of the old assignment's slips into a transaction after its abort.
        m = c.poll(0.1)
        if m is not None and m.error():
            emit({"e": "error", "error": str(m.error())})
            m = None
        if m is not None:
            try:
                if not state["in_txn"]:
                    call("begin", state["producer"].begin_transaction)
                    state["in_txn"] = True
                    started = time.time()
                while True:
                    try:
                        state["producer"].produce(out_topic, key=m.key(), value=f"{m.value().decode()}|{m.partition()}|{m.offset()}", partition=m.partition())
                        break
                    except BufferError:
                        state["producer"].poll(0.05)
                state["pending"][m.partition()] = m.offset() + 1
                state["n"] += 1
            except Restart as e:
                state["in_txn"] = False
                recreate(str(e))
                rewind()
                continue
            except KafkaException as e:
                # begin or produce refused: the producer is in an abortable error state.
                abort(str(e.args[0]), force=True)
                continue
        state["producer"].poll(0)
        if state["in_txn"] and (state["n"] >= 2000 or time.time() - started >= 0.3):
            commit()
        if stopping_since is not None and m is None and drained():
            done = True
            break
    if state["in_txn"]:
        abort("stopping", rewinding=False)
    committed = {}
    try:
        committed = {str(tp.partition): tp.offset for tp in c.committed(c.assignment(), 10)}
    except KafkaException:
        pass
    c.close()
    emit({"e": "done", "drained": done, "committed": committed, **stats})


def read(bootstrap, topic, partitions, isolation="read_uncommitted"):
    began = time.time()

    def took(what):
        sys.stderr.write(f"read: {what} after {time.time() - began:.1f} s\n")

    # A cold read costs the broker one object-store GET per run of batches (the log is spread over hundreds
    # of small objects): small fetches, each well within the request timeout.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floe-chaos-reader-unused", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest", "isolation.level": isolation, **RESILIENT,
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
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]), *sys.argv[5:6])
    elif mode == "transform":
        transform(*sys.argv[2:8])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
