// The Floe console: plain ES modules, no framework and no build step (served as written by
// src/console/console-server.ts). Hash routes: #/brokers #/topics #/topics/T #/topics/T/messages
// #/groups #/groups/G #/objects #/cost. Live charts poll the JSON API every 2 s. On a secured broker
// the API answers 401 until a login (#/login; the session is an HttpOnly cookie the page never sees).

const view = document.getElementById('view');
let timers = [];
let cluster = null;
let session = null;

/** The API answered 401: show the login form. */
class LoginRequired extends Error {}

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let v = Number(n) || 0; let i = 0; while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; } return i === 0 ? `${v} B` : `${v.toFixed(1)} ${u[i]}`; };
const money = (n) => `$${Number(n).toFixed(n < 1 ? 4 : 2)}`;

async function api(path, init) {
  const res = await fetch(`/api/${path}`, init);
  const body = await res.json();
  if (res.status === 401 && path !== 'login') throw new LoginRequired(body.error);
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

const post = (path, body) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function showSession() {
  const el = document.getElementById('session');
  if (!session?.authRequired) { el.innerHTML = ''; return; }
  el.innerHTML = session.user ? `<span data-testid="user">${esc(session.user)}</span> <button id="logout">Log out</button>` : '';
  document.getElementById('logout')?.addEventListener('click', async () => {
    await post('logout', {});
    session = null; cluster = null;
    location.hash = '#/login';
    render();
  });
}

function loginView(message) {
  const back = location.hash.startsWith('#/login') ? '#/brokers' : location.hash || '#/brokers';
  view.innerHTML = `<h1>Log in</h1><p>This broker is secured: log in as a Kafka user (SASL PLAIN or SCRAM); the console then has that user's ACLs.</p>
    <form id="login" class="login"><label>User <input name="user" autocomplete="username" required></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label><button>Log in</button></form>
    ${message ? `<div class="error" data-testid="login-error">${esc(message)}</div>` : ''}`;
  document.getElementById('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await post('login', { user: f.get('user'), password: f.get('password') });
      session = null; cluster = null;
      if (location.hash === back) render(); else location.hash = back;
    } catch (err) {
      loginView(err.message);
      document.body.dataset.loaded = location.hash;
    }
  });
}

function table(headers, rows, id) {
  return `<table${id ? ` data-testid="${id}"` : ''}><thead><tr>${headers.map((h) => `<th class="${h.num ? 'num' : ''}">${esc(h.label ?? h)}</th>`).join('')}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td class="${headers[i].num ? 'num' : ''}">${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** A line chart of samples [{t, v}] as SVG. */
function chart(samples, label, unit) {
  const w = 520, h = 120, pad = 4;
  const max = Math.max(1, ...samples.map((s) => s.v));
  const pts = samples.map((s, i) => `${pad + (i * (w - 2 * pad)) / Math.max(1, samples.length - 1)},${h - pad - ((h - 2 * pad) * s.v) / max}`).join(' ');
  const last = samples.length ? samples[samples.length - 1].v : 0;
  return `<div><div>${esc(label)}: <b>${esc(unit(last))}</b> (max ${esc(unit(max))})</div>
    <svg class="chart" width="${w}" height="${h}"><polyline fill="none" stroke="#2f6fde" stroke-width="2" points="${pts}"/></svg></div>`;
}

function every(ms, f) { f(); timers.push(setInterval(f, ms)); }

function decode(b64, as) {
  if (b64 === null) return '<i>null</i>';
  const raw = atob(b64);
  const u8 = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  if (as === 'hex') return `<pre>${[...u8].map((b) => b.toString(16).padStart(2, '0')).join(' ')}</pre>`;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(u8);
  if (as === 'json') { try { return `<pre>${esc(JSON.stringify(JSON.parse(text), null, 2))}</pre>`; } catch { return `<pre>${esc(text)}</pre>`; } }
  return `<pre>${esc(text)}</pre>`;
}

const views = {
  async brokers() {
    const c = await api('cluster');
    const samples = { in: [], out: [] };
    let prev = null;
    view.innerHTML = `<h1>Brokers</h1>
      <div class="cards"><div class="card">Cluster id<b data-testid="cluster-id">${esc(c.clusterId)}</b></div>
      <div class="card">Brokers<b data-testid="broker-count">${c.brokers.length}</b></div><div class="card">Controller<b>${c.controllerId}</b></div></div>
      ${table(['Node', 'Host', 'Port', 'Rack', 'State'], c.brokers.map((b) => [b.nodeId, esc(b.host), b.port, esc(b.rack ?? '-'), 'live']), 'brokers')}
      <h2>Throughput (this broker)</h2><div id="charts"></div>`;
    every(2000, async () => {
      const now = await api('cluster');
      if (prev) {
        const dt = (now.sampledAtMs - prev.sampledAtMs) / 1000 || 1;
        samples.in.push({ v: (now.thisBroker.bytesIn - prev.thisBroker.bytesIn) / dt });
        samples.out.push({ v: (now.thisBroker.bytesOut - prev.thisBroker.bytesOut) / dt });
        for (const k of ['in', 'out']) if (samples[k].length > 60) samples[k].shift();
        const el = document.getElementById('charts');
        if (el) el.innerHTML = chart(samples.in, 'Bytes in', (v) => `${bytes(v)}/s`) + chart(samples.out, 'Bytes out', (v) => `${bytes(v)}/s`);
      }
      prev = now;
    });
  },

  async topics() {
    const topics = await api('topics');
    const form = cluster?.writeEnabled ? `<form class="inline" id="create"><input name="name" placeholder="topic" required><input name="partitions" type="number" min="1" value="1"><button>Create topic</button></form>` : '';
    view.innerHTML = `<h1>Topics (${topics.length})</h1>${form}
      ${table(['Topic', 'Kind', { label: 'Partitions', num: 1 }, { label: 'Size', num: 1 }, 'cleanup.policy', 'retention.ms'],
        topics.map((t) => [`<a href="#/topics/${encodeURIComponent(t.name)}">${esc(t.name)}</a>`, t.kind, t.partitions, bytes(t.sizeBytes), esc(t.cleanupPolicy ?? ''), esc(t.retentionMs ?? '')]), 'topics')}`;
    document.getElementById('create')?.addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      try { await api('topics', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: f.get('name'), partitions: Number(f.get('partitions')) }) }); render(); } catch (err) { alert(err.message); }
    });
  },

  async topic(name) {
    const t = await api(`topics/${encodeURIComponent(name)}`);
    const del = cluster?.writeEnabled ? `<button id="delete">Delete topic</button>` : '';
    view.innerHTML = `<h1>Topic ${esc(name)}</h1><p><a href="#/topics/${encodeURIComponent(name)}/messages">Browse messages</a> ${del}</p>
      ${table([{ label: 'Partition', num: 1 }, 'Leader', 'Replicas', 'ISR', { label: 'Start offset', num: 1 }, { label: 'End offset', num: 1 }, { label: 'Messages', num: 1 }],
        t.partitions.map((p) => [p.partition, p.leader, p.replicas.join(','), p.isr.join(','), p.startOffset, p.endOffset, p.endOffset - p.startOffset]), 'partitions')}
      ${cluster?.writeEnabled ? `<h2>Delete records</h2><form class="inline" id="delete-records">Partition <select name="partition">${t.partitions.map((p) => `<option>${p.partition}</option>`).join('')}</select>
        delete every record before offset <input name="offset" type="number" min="0" required style="width:8em"><button>Delete records</button>
        <span data-testid="action-result"></span></form>` : ''}
      <h2>Configs</h2>${table(['Name', 'Value', 'Source'], t.configs.map((c) => [esc(c.name), esc(c.value ?? '(sensitive)'), c.source === 1 ? 'topic' : c.source === 5 ? 'default' : 'broker']), 'configs')}`;
    document.getElementById('delete-records')?.addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const out = e.target.querySelector('[data-testid=action-result]');
      if (!confirm(`Delete the records of ${name}-${f.get('partition')} before offset ${f.get('offset')}?`)) return;
      try {
        const r = await post(`topics/${encodeURIComponent(name)}/delete-records`, { partition: Number(f.get('partition')), offset: f.get('offset') });
        await render();
        const el = document.querySelector('#delete-records [data-testid=action-result]');
        if (el) el.textContent = `Partition ${r.partition} now starts at offset ${r.lowWatermark}.`;
      } catch (err) { out.className = 'error'; out.textContent = err.message; }
    });
    document.getElementById('delete')?.addEventListener('click', async () => {
      if (!confirm(`Delete topic ${name}?`)) return;
      try { await api(`topics/${encodeURIComponent(name)}`, { method: 'DELETE' }); location.hash = '#/topics'; } catch (err) { alert(err.message); }
    });
  },

  async messages(name, params) {
    const partition = params.get('partition') ?? '0';
    const offset = params.get('offset') ?? '';
    const timestamp = params.get('timestamp') ?? '';
    const as = params.get('as') ?? 'text';
    const m = await api(`topics/${encodeURIComponent(name)}/messages?partition=${partition}&offset=${offset}&timestamp=${encodeURIComponent(timestamp)}&limit=50`);
    // datetime-local shows the browser's local time; the API takes milliseconds.
    const local = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 23); };
    view.innerHTML = `<h1>Messages of ${esc(name)}</h1>
      <form class="inline" id="browse">Partition <input name="partition" type="number" min="0" value="${esc(partition)}" style="width:5em">
        Offset <input name="offset" type="number" min="0" value="${esc(offset)}" placeholder="last 50" style="width:8em">
        or from time <input name="timestamp" type="datetime-local" step="0.001" value="${timestamp ? esc(local(Number(timestamp))) : ''}">
        Show as <select name="as">${['text', 'json', 'hex'].map((x) => `<option${x === as ? ' selected' : ''}>${x}</option>`).join('')}</select><button>Go</button></form>
      <p>Offsets ${m.startOffset}–${m.endOffset} in partition ${m.partition}; showing ${m.records.length} from ${m.from}${m.timestamp !== null ? ` (the first at or after ${esc(new Date(m.timestamp).toISOString())})` : ''}.</p>
      ${table([{ label: 'Offset', num: 1 }, 'Timestamp', 'Key', 'Value', 'Headers'], m.records.map((r) => [r.offset, esc(new Date(r.timestamp).toISOString()), decode(r.key, as), decode(r.value, as),
        r.headers.map((h) => `${esc(h.key)}: ${decode(h.value, as)}`).join('')]), 'messages')}`;
    document.getElementById('browse').addEventListener('submit', (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const ts = f.get('timestamp') ? new Date(f.get('timestamp')).getTime() : '';
      location.hash = `#/topics/${encodeURIComponent(name)}/messages?partition=${f.get('partition')}&${ts !== '' ? `timestamp=${ts}` : `offset=${f.get('offset')}`}&as=${f.get('as')}`;
    });
  },

  async groups() {
    const groups = await api('groups');
    view.innerHTML = `<h1>Consumer groups (${groups.length})</h1>
      ${table(['Group', 'State', 'Protocol type'], groups.map((g) => [`<a href="#/groups/${encodeURIComponent(g.groupId)}">${esc(g.groupId)}</a>`, esc(g.state), esc(g.protocolType)]), 'groups')}`;
  },

  async group(id) {
    const lag = [];
    const draw = (g) => {
      lag.push({ v: g.totalLag });
      if (lag.length > 60) lag.shift();
      view.innerHTML = `<h1>Group ${esc(id)}</h1>
        <div class="cards"><div class="card">State<b data-testid="group-state">${esc(g.state)}</b></div><div class="card">Members<b>${g.members.length}</b></div>
        <div class="card">Total lag<b data-testid="total-lag">${g.totalLag}</b></div></div>
        ${chart(lag, 'Lag', (v) => `${v} records`)}
        <h2>Partitions</h2>${table(['Topic', { label: 'Partition', num: 1 }, { label: 'Committed', num: 1 }, { label: 'Log end', num: 1 }, { label: 'Lag', num: 1 }, 'Consumer', 'Host', 'Client id'],
          g.partitions.map((p) => [esc(p.topic), p.partition, p.currentOffset ?? '-', p.logEndOffset, p.lag ?? '-', esc(p.consumerId ?? '-'), esc(p.host ?? '-'), esc(p.clientId ?? '-')]), 'group-partitions')}
        <h2>Members</h2>${table(['Member', 'Client id', 'Host', 'Assignment'], g.members.map((m) => [esc(m.memberId), esc(m.clientId), esc(m.host), esc(m.assignment.map((a) => `${a.topic}: ${a.partitions.join(',')}`).join('; '))]), 'members')}`;
    };
    every(2000, async () => draw(await api(`groups/${encodeURIComponent(id)}`)));
  },

  async objects() {
    const { usage: u, objects } = await api('objects');
    const maxCount = Math.max(1, ...u.histogram.map((h) => h.objects));
    view.innerHTML = `<h1>Objects</h1>
      <div class="cards"><div class="card">Objects<b data-testid="object-count">${u.objects}</b></div><div class="card">Bytes<b>${bytes(u.bytes)}</b></div>
      <div class="card">Live bytes<b>${bytes(u.liveBytes)}</b></div><div class="card">Waiting for deletion<b data-testid="deleting-bytes">${bytes(u.deletingBytes + u.unreferencedBytes)}</b></div>
      <div class="card">Pending uploads<b>${u.pendingUploads}</b></div></div>
      <h2>Size histogram</h2>${table(['Size <', { label: 'Objects', num: 1 }, { label: 'Bytes', num: 1 }, ''], u.histogram.map((h) => [bytes(h.upTo), h.objects, bytes(h.bytes), `<span class="bar" style="width:${Math.round((200 * h.objects) / maxCount)}px"></span>`]), 'histogram')}
      <h2>Objects (first ${objects.length})</h2>${table(['Key', { label: 'Size', num: 1 }, { label: 'Live', num: 1 }, { label: 'Batches', num: 1 }, 'State', 'Broker', 'Created'],
        objects.map((o) => [esc(o.key), bytes(o.size), bytes(o.liveBytes), o.batches, esc(o.state), o.brokerId, esc(new Date(o.createdMs).toISOString())]), 'objects')}`;
  },

  async cost() {
    const c = await api('cost');
    const p = c.prices;
    view.innerHTML = `<h1>Cost</h1><p>At the configured prices (console.cost.*): PUT ${money(p.putPer1000)}/1,000, GET ${money(p.getPer1000)}/1,000, storage ${money(p.storagePerGibMonth)}/GiB-month.
      Request counts are this broker's since it started (${Math.round(c.uptimeSeconds)} s).</p>
      ${table(['Item', { label: 'Quantity', num: 1 }, { label: 'Cost', num: 1 }], [
        ['PUT and LIST requests', c.sinceStart.puts, money(c.sinceStart.putCost)],
        ['GET requests', c.sinceStart.gets, money(c.sinceStart.getCost)],
        ['Storage (per month)', bytes(c.storage.bytes), money(c.storage.perMonth)],
      ], 'cost')}`;
  },
};

async function render() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const [path, query] = (location.hash.slice(1) || '/brokers').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query ?? '');
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${parts[0]}`);
  try {
    session ??= await api('session');
    showSession();
    if (parts[0] === 'login' || (session.authRequired && !session.user)) {
      loginView(session.authRequired && session.canLogin === false ? 'This broker has no SASL listener: the console cannot check a password.' : '');
      document.body.dataset.loaded = location.hash;
      return;
    }
    cluster ??= await api('cluster');
    document.getElementById('mode').textContent = cluster.writeEnabled ? 'read-write' : 'read-only';
    if (parts[0] === 'topics' && parts[1] && parts[2] === 'messages') await views.messages(parts[1], params);
    else if (parts[0] === 'topics' && parts[1]) await views.topic(parts[1]);
    else if (parts[0] === 'groups' && parts[1]) await views.group(parts[1]);
    else await (views[parts[0]] ?? views.brokers)();
    document.body.dataset.loaded = location.hash;
  } catch (err) {
    if (err instanceof LoginRequired) { session = null; cluster = null; loginView(''); }
    else view.innerHTML = `<div class="error" data-testid="error">${esc(err.message)}</div>`;
    document.body.dataset.loaded = location.hash;
  }
}

window.addEventListener('hashchange', render);
render();
