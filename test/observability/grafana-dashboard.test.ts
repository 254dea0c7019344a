/**
 * dashboards/floe.json (the Grafana dashboard) plots only metrics a running broker serves: every metric name
 * in its PromQL expressions must appear in /metrics of a broker that has produced and fetched (a histogram's
 * _bucket/_sum/_count series count as its name).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';

const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'histogram_quantile', 'le', 'op', 'request', 'instance', 'kind', 'irate', 'increase', 'avg', 'max', 'min', 'state', 'ack_type', 'reason', 'outcome', 'stage', 'result']);

test('every metric the Grafana dashboard plots exists in a running broker\'s /metrics', async () => {
  const dashboard = JSON.parse(await readFile(resolve(import.meta.dirname, '../../dashboards/floe.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  const plotted = new Map<string, string>();
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, `panel '${panel.title}' plots something`);
    for (const t of panel.targets) {
      const withoutLabels = t.expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '');
      for (const word of withoutLabels.match(/\b[a-z_][a-z0-9_]*\b/g) ?? []) if (!PROMQL_WORDS.has(word)) plotted.set(word, panel.title);
    }
  }
  assert.ok(plotted.size >= 20, `the dashboard plots ${plotted.size} metrics`);

  const broker = await startTestBroker({ 'metrics.listener': 'http://127.0.0.1:0' });
  await kcatProduce(broker.bootstrap, 'dashboard-check', ['k:v', 'k2:v2']);
  assert.equal((await kcatConsume(broker.bootstrap, 'dashboard-check', '%s\n')).length, 2);
  const text = await (await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`)).text();
  const served = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m && !line.startsWith('# HELP')) {
      served.add(m[1]!);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) served.add(m[1]! + s);
    }
  }
  const missing = [...plotted].filter(([name]) => !served.has(name)).map(([name, panel]) => `${name} (panel '${panel}')`);
  assert.deepEqual(missing, [], 'metrics plotted by dashboards/floe.json that /metrics does not serve');
});
