/**
 * Meta-tests over the handler table (STYLE.md, kfake's TestFaultCoverage): every file in
 * src/broker/handlers/ is listed in index.ts, each handler's range is one the codec knows, and every
 * handler's errorResponse encodes at every version it serves (dispatch sends it when a handler throws).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HANDLERS } from '../../src/broker/handlers/index.ts';
import { encodeResponseFrame } from '../../src/broker/dispatch.ts';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import { API_SPECS } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import type { RequestContext } from '../../src/broker/handler.ts';

test('every handler file is in handlers/index.ts, once, with a range the codec supports', async () => {
  const dir = join(import.meta.dirname, '../../src/broker/handlers');
  const files = (await readdir(dir)).filter((f) => /^\d\d-.*\.ts$/.test(f) && !f.endsWith('.test.ts'));
  const keys = files.map((f) => Number(f.slice(0, 2)));
  assert.deepEqual(HANDLERS.map((h) => h.key).sort((a, b) => a - b), keys.sort((a, b) => a - b));
  for (const h of HANDLERS) {
    const spec = API_SPECS[h.key]!;
    assert.equal(h.name, spec.name);
    assert.ok(h.minVersion >= spec.minVersion && h.maxVersion <= spec.maxVersion && h.minVersion <= h.maxVersion, `${h.name} ${h.minVersion}-${h.maxVersion}`);
  }
});

test('every errorResponse encodes at every version the handler serves', () => {
  for (const h of HANDLERS) {
    for (let v = h.minVersion; v <= h.maxVersion; v++) {
      const codec = MESSAGES[h.key]!;
      const w = new Writer();
      codec.request.encode(w, v, {});
      const request = codec.request.decode(new Reader(Buffer.concat(w.finish())), v);
      const ctx = { apiKey: h.key, apiVersion: v, correlationId: 1, clientId: 'meta' } as unknown as RequestContext;
      const body = h.errorResponse(request, ErrorCode.UNKNOWN_SERVER_ERROR, ctx);
      assert.doesNotThrow(() => encodeResponseFrame(h.key, v, 1, body), `${h.name} v${v}`);
    }
  }
});
