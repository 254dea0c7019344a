/**
 * Which API versions a client uses: starts a broker with the metrics listener, runs one client command
 * (its arguments get BOOTSTRAP replaced by the broker's address) and prints the requests it made by API and
 * version, from kafka_network_requestmetrics_requests_total.
 *
 *   npx tsx bench/client-versions.ts /usr/bin/python3 test/clients/old/kafka_python_client.py BOOTSTRAP t g 10 true
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestBroker } from '../test/helpers/broker.ts';

const broker = await startTestBroker({ 'metrics.listener': 'http://127.0.0.1:0', 'num.partitions': 2 });
const [cmd, ...args] = process.argv.slice(2);
try {
  // Asynchronously: the broker runs in this process.
  await promisify(execFile)(cmd!, args.map((a) => (a === 'BOOTSTRAP' ? broker.bootstrap : a)), { timeout: 150_000 });
} catch (err) {
  console.error(`client failed: ${(err as Error).message}`);
}
const text = await (await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`)).text();
const byApi = new Map<string, string[]>();
for (const line of text.split('\n')) {
  const m = /^kafka_network_requestmetrics_requests_total\{request="([^"]+)",version="(\d+)"\} (\d+)/.exec(line);
  if (m) byApi.set(m[1]!, [...(byApi.get(m[1]!) ?? []), `v${m[2]}×${m[3]}`]);
}
console.log([...byApi].map(([api, vs]) => `${api} ${vs.join(' ')}`).join('; '));
process.exit(0);
