/** Kafka's framing: a request or response is its 4-byte big-endian size, then that many bytes. */
export function sizePrefixed(body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + body.length);
  b.writeInt32BE(body.length, 0);
  body.copy(b, 4);
  return b;
}
