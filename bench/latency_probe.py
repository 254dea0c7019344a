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
while time.perf_counter() < end:
    sent = time.perf_counter()
    p.produce(topic, value=b"x" * 100, on_delivery=lambda err, msg, sent=sent: report(err, msg, sent))
    p.poll(interval_ms / 1000)
p.flush(30)
print(json.dumps(latencies))
