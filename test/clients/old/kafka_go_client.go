// kafka-go 0.2.1 (Debian's golang-github-segmentio-kafka-go-dev) against Floe: creates a topic (CreateTopics
// v0), produces (Produce v2, message format v1), consumes in a group (JoinGroup v1, Fetch v2, OffsetCommit v2)
// with synchronous commits, and prints how many it consumed as JSON (the test reads the committed offsets).
// Usage: kafka_go_client BROKER TOPIC GROUP COUNT DISKLESS(true|false)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	broker, topic, group := os.Args[1], os.Args[2], os.Args[3]
	count, _ := strconv.Atoi(os.Args[4])
	diskless := os.Args[5]

	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		fail("dial", err)
	}
	err = conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "diskless.enable", ConfigValue: diskless}}})
	if err != nil {
		fail("create topic", err)
	}
	conn.Close()

	w := kafka.NewWriter(kafka.WriterConfig{Brokers: []string{broker}, Topic: topic, Balancer: &kafka.RoundRobin{}, BatchSize: 10, BatchTimeout: 50 * time.Millisecond})
	msgs := make([]kafka.Message, count)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		fail("produce", err)
	}
	w.Close()

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, GroupID: group, Topic: topic, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second})
	seen := map[string]bool{}
	for len(seen) < count {
		m, err := r.ReadMessage(ctx) // commits synchronously (CommitInterval 0)
		if err != nil {
			fail(fmt.Sprintf("consume after %d", len(seen)), err)
		}
		seen[string(m.Value)] = true
	}
	if err := r.Close(); err != nil {
		fail("close reader", err)
	}
	j, _ := json.Marshal(map[string]int{"consumed": len(seen)})
	fmt.Println(string(j))
}
