// sarama 1.22 (Debian's golang-github-shopify-sarama-dev) against Floe: creates a topic, produces with lz4
// (Kafka version 2.1.0), consumes in a group, and prints the committed and end offsets as JSON.
// Usage: sarama_client BROKER TOPIC GROUP COUNT DISKLESS(true|false)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type handler struct {
	mu       sync.Mutex
	consumed int
	want     int
	done     chan struct{}
	once     sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
		h.mu.Lock()
		h.consumed++
		if h.consumed >= h.want {
			h.once.Do(func() { close(h.done) })
		}
		h.mu.Unlock()
	}
	return nil
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	broker, topic, group := os.Args[1], os.Args[2], os.Args[3]
	count, _ := strconv.Atoi(os.Args[4])
	diskless := os.Args[5]
	brokers := []string{broker}

	conf := sarama.NewConfig()
	conf.Version = sarama.V2_1_0_0
	conf.ClientID = "sarama-1.22"
	conf.Producer.Compression = sarama.CompressionLZ4
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	conf.Consumer.Return.Errors = true

	admin, err := sarama.NewClusterAdmin(brokers, conf)
	if err != nil {
		fail("admin", err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: map[string]*string{"diskless.enable": &diskless}}, false); err != nil {
		fail("create topic", err)
	}
	producer, err := sarama.NewSyncProducer(brokers, conf)
	if err != nil {
		fail("producer", err)
	}
	for i := 0; i < count; i++ {
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))}); err != nil {
			fail("produce", err)
		}
	}
	producer.Close()

	cg, err := sarama.NewConsumerGroup(brokers, group, conf)
	if err != nil {
		fail("consumer group", err)
	}
	go func() {
		for err := range cg.Errors() {
			fmt.Fprintf(os.Stderr, "consumer error: %v\n", err)
		}
	}()
	h := &handler{want: count, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "consume: %v\n", err)
				time.Sleep(500 * time.Millisecond)
			}
		}
	}()
	select {
	case <-h.done:
	case <-time.After(90 * time.Second):
		fail("consume", fmt.Errorf("timed out after %d of %d messages", h.consumed, count))
	}
	cancel()
	if err := cg.Close(); err != nil { // commits the marked offsets
		fail("close group", err)
	}

	client, err := sarama.NewClient(brokers, conf)
	if err != nil {
		fail("client", err)
	}
	committed, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1}})
	if err != nil {
		fail("offset fetch", err)
	}
	out := map[string]interface{}{"consumed": h.consumed}
	commits, ends := map[string]int64{}, map[string]int64{}
	for _, p := range []int32{0, 1} {
		b := committed.GetBlock(topic, p)
		if b == nil {
			fail("offset fetch", fmt.Errorf("no block for partition %d", p))
		}
		commits[strconv.Itoa(int(p))] = b.Offset
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			fail("end offset", err)
		}
		ends[strconv.Itoa(int(p))] = end
	}
	out["committed"], out["end"] = commits, ends
	j, _ := json.Marshal(out)
	fmt.Println(string(j))
}
