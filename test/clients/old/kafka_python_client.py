"""kafka-python (Debian's python3-kafka) against Floe: creates a topic, produces, consumes in a group,
commits, and prints the committed and end offsets as JSON.
Usage: kafka_python_client.py BROKER TOPIC GROUP COUNT DISKLESS(true|false)"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

broker, topic, group, count, diskless = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

admin = KafkaAdminClient(bootstrap_servers=broker, client_id='kafka-python')
admin.create_topics([NewTopic(topic, 2, 1, topic_configs={'diskless.enable': diskless})])
admin.close()

producer = KafkaProducer(bootstrap_servers=broker, acks='all', client_id='kafka-python')
for i in range(count):
    producer.send(topic, key=b'k%d' % i, value=b'v%d' % i)
producer.flush(60)
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=broker, group_id=group, auto_offset_reset='earliest',
                         enable_auto_commit=False, client_id='kafka-python')
seen = set()
deadline = time.time() + 90
while len(seen) < count and time.time() < deadline:
    for records in consumer.poll(timeout_ms=500).values():
        for r in records:
            seen.add(r.value)
consumer.commit()
parts = [TopicPartition(topic, p) for p in (0, 1)]
committed = {str(tp.partition): consumer.committed(tp) for tp in parts}
end = {str(tp.partition): off for tp, off in consumer.end_offsets(parts).items()}
consumer.close()
print(json.dumps({'consumed': len(seen), 'committed': committed, 'end': end}))
