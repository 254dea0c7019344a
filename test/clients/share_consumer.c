/*
 * A share-group consumer (KIP-932) on librdkafka 2.15's share consumer API (rd_kafka_share_*), for
 * test/clients/librdkafka-share-groups.test.ts, compiled in the test's set-up against the librdkafka that
 * test/helpers/librdkafka.ts builds. Usage: share_consumer BOOTSTRAP GROUP TOPIC [MAX_POLL_RECORDS [MODE]]
 * MODE "implicit" (default): every record of a poll is accepted by the next poll or the close. MODE "mixed":
 * explicit acknowledgement, by offset: offset % 4 == 1 is RELEASEd on its first delivery (accepted on the
 * next), offset % 4 == 2 is REJECTed, the others are ACCEPTed. Prints one line per record,
 * "<partition> <offset> <delivery count>", and "closed" after a clean close on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

static volatile sig_atomic_t run = 1;
static void stop(int sig) { (void)sig; run = 0; }

int main(int argc, char **argv) {
  char errstr[512];
  if (argc < 4) {
    fprintf(stderr, "usage: %s BOOTSTRAP GROUP TOPIC\n", argv[0]);
    return 2;
  }
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "group.id", argv[2], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "config: %s\n", errstr);
    return 1;
  }
  if (argc > 4 && rd_kafka_conf_set(conf, "max.poll.records", argv[4], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "config: %s\n", errstr);
    return 1;
  }
  int mixed = argc > 5 && strcmp(argv[5], "mixed") == 0;
  if (mixed && rd_kafka_conf_set(conf, "share.acknowledgement.mode", "explicit", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "config: %s\n", errstr);
    return 1;
  }
  rd_kafka_share_t *rkshare = rd_kafka_share_consumer_new(conf, errstr, sizeof(errstr));
  if (!rkshare) {
    fprintf(stderr, "new: %s\n", errstr);
    return 1;
  }
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, argv[3], RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_share_subscribe(rkshare, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) {
    fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(err));
    return 1;
  }
  printf("subscribed\n");
  fflush(stdout);
  while (run) {
    rd_kafka_messages_t *batch = NULL;
    rd_kafka_error_t *error = rd_kafka_share_poll(rkshare, 200, &batch);
    if (error) {
      fprintf(stderr, "poll: %s\n", rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    } else {
      size_t n = rd_kafka_messages_count(batch);
      for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = rd_kafka_messages_get(batch, i);
        if (m->err) fprintf(stderr, "record error: %s\n", rd_kafka_err2str(m->err));
        else printf("%d %lld %d\n", (int)m->partition, (long long)m->offset, (int)rd_kafka_message_delivery_count(m));
        if (mixed) {
          rd_kafka_share_AcknowledgeType_t type = RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_ACCEPT;
          if (m->offset % 4 == 1 && rd_kafka_message_delivery_count(m) == 1) type = RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_RELEASE;
          else if (m->offset % 4 == 2) type = RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_REJECT;
          rd_kafka_resp_err_t ackerr = rd_kafka_share_acknowledge_type(rkshare, m, type);
          if (ackerr) fprintf(stderr, "acknowledge: %s\n", rd_kafka_err2str(ackerr));
        }
      }
      fflush(stdout);
    }
    rd_kafka_messages_destroy(batch);
  }
  rd_kafka_error_t *closing = rd_kafka_share_consumer_close(rkshare);
  if (closing) {
    fprintf(stderr, "close: %s\n", rd_kafka_error_string(closing));
    rd_kafka_error_destroy(closing);
  }
  rd_kafka_share_destroy(rkshare);
  printf("closed\n");
  fflush(stdout);
  return 0;
}
