"""Produce latency probe (confluent-kafka / librdkafka): sends one message every INTERVAL ms for SECONDS,
acks=all, and prints the delivery latencies in ms as one JSON list. Usage: BOOTSTRAP TOPIC SECONDS INTERVAL_MS"""
import json
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, seconds, interval_ms = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
latencies = []


def report(err, msg, sent):
    if err is None:
        latencies.append((time.perf_counter() - sent) * 1000)


p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
p.produce(topic, value=b"warm-up")  # connection and metadata set-up are not produce latency
p.flush(30)
end = time.perf_counter() + seconds
next_send = time.perf_counter()
while next_send < end:
    sent = time.perf_counter()
    p.produce(topic, value=b"x" * 100, on_delivery=lambda err, msg, sent=sent: report(err, msg, sent))
    next_send += interval_ms / 1000
    # poll() returns as soon as a delivery report was served: keep polling until the next send is due.
    while (left := next_send - time.perf_counter()) > 0:
        p.poll(left)
p.flush(30)
print(json.dumps(latencies))
