/** A Kafka error code in a response, for Floe's own tools: `name` is Kafka's (UNKNOWN_TOPIC_OR_PARTITION, …). */
import { errorName } from '../protocol/gen/errors.ts';

export class KafkaError extends Error {
  override readonly name: string;
  constructor(readonly code: number, readonly subject: string, detail: string | null = null) {
    super(`${subject}: ${errorName(code)}${detail ? ` (${detail})` : ''}`);
    this.name = errorName(code);
  }
}
