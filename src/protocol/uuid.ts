/** Kafka's all-zero UUID, meaning "no topic id" on the wire. */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
