// The ops page's script, served as /ops/app.js (a TS string module: see html.ts). It must hold no
// backtick and no dollar-brace (it lives in a template literal); test/unit/ops-page.test.ts parses it.
//
// What must stay true: the token lives only in the variable `token` (never storage, cookie or URL);
// everything shown from data is set with textContent (dead-letter bodies are attacker-controlled).
export const OPS_JS = String.raw`const API = '/api/v1/socket';
const RECONNECT_MS = 2000;
const REPLAY_LIMIT = 100;
const LISTED_DEAD_LETTERS = 50;

/** The admin token: in this variable only. */
let token = null;
let stream = null;
let reconnectTimer = null;
let shownQueueCount;

const $ = (id) => document.getElementById(id);
const setText = (id, text) => { $(id).textContent = text; };

class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || ('HTTP ' + status));
    this.status = status;
    this.code = (error && error.code) || 'http_' + status;
  }
  describe() { return this.status + ' ' + this.code + ': ' + this.message; }
}

function authHeaders(accept) {
  return { Authorization: 'Bearer ' + token, Accept: accept };
}

async function errorOf(res) {
  let payload = null;
  try { payload = await res.json(); } catch { /* not JSON */ }
  return new ApiError(res.status, payload && payload.error);
}

/** A call to the bridge's API: same origin, Bearer header, a JSON body when there is one, no cookie. */
async function api(path, body) {
  const headers = authHeaders('application/json');
  const init = { method: 'GET', headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    init.method = 'POST';
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, init);
  if (!res.ok) throw await errorOf(res);
  const payload = await res.json();
  if (!payload || payload.success !== true) throw new ApiError(res.status, payload && payload.error);
  return payload.data;
}

function setStatus(text, kind) {
  const el = $('status');
  el.textContent = text;
  el.className = 'status' + (kind ? ' ' + kind : '');
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function fill(tbodySelector, rows) {
  document.querySelector(tbodySelector).replaceChildren(...rows);
}

const fixed = (n, digits) => (Math.round(n * 10 ** digits) / 10 ** digits).toFixed(digits);
const mib = (bytes) => fixed(bytes / 1048576, 1) + ' MiB';
const seconds = (s) => (s === null ? '—' : s < 1 ? fixed(s * 1000, 1) + ' ms' : fixed(s, 2) + ' s');

function duration(total) {
  const s = Math.floor(total);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

function flag(id, state, label) {
  const node = $(id);
  node.textContent = label;
  node.className = state === true ? 'ok' : state === false ? 'bad' : '';
}

function rateRow(key, attribute, entry) {
  const row = el('tr');
  row.dataset[attribute] = entry[key];
  row.append(el('th', entry[key]), el('td', fixed(entry.perSecond, 2), 'rate'), el('td', entry.total, 'total'));
  return row;
}

function setRate(rowId, entry) {
  const row = $(rowId);
  row.querySelector('.rate').textContent = fixed(entry.perSecond, 2);
  row.querySelector('.total').textContent = String(entry.total);
}

function render(s) {
  flag('broker', s.broker.connected, s.broker.connected ? 'connected' : 'disconnected');
  if (!s.redis.configured) flag('redis', null, 'not configured');
  else flag('redis', s.redis.connected, s.redis.connected ? 'connected' : 'disconnected');
  setText('connections', s.connections);
  setText('users', s.users);
  const i = s.instance;
  setText('instance', i.hostname + ' · pid ' + i.pid + ' · node ' + i.nodeVersion);
  setText('uptime', duration(i.uptimeSeconds));
  setText('memory', 'rss ' + mib(i.memory.rssBytes) + ' · heap ' + mib(i.memory.heapUsedBytes) + ' / ' + mib(i.memory.heapTotalBytes));
  const loop = i.eventLoopDelayMs;
  setText('loop', loop ? 'p50 ' + fixed(loop.p50, 1) + ' ms · p99 ' + fixed(loop.p99, 1) + ' ms · max ' + fixed(loop.max, 1) + ' ms' : '—');
  setText('updated', new Date(s.time).toLocaleTimeString() + ' (interval ' + fixed(s.intervalSeconds, 1) + ' s)');

  setRate('consumed-row', s.events.consumed);
  setRate('duplicates-row', s.events.duplicates);
  fill('#delivered tbody', s.events.delivered.map((e) => rateRow('type', 'type', e)));
  fill('#dead-lettered tbody', s.events.deadLettered.map((e) => rateRow('reason', 'reason', e)));
  const none = s.lag.observations === 0 ? ' (no deliveries in the interval)' : '';
  setText('lag-p50', seconds(s.lag.p50Seconds) + none);
  setText('lag-p99', seconds(s.lag.p99Seconds) + none);
  setText('lag-count', s.lag.observations);

  setText('rooms-total', '(' + s.rooms.total + ' in all' + (s.rooms.total > s.rooms.largest.length ? ', the ' + s.rooms.largest.length + ' largest shown' : '') + ')');
  fill('#rooms tbody', s.rooms.largest.map((r) => {
    const row = el('tr');
    row.dataset.room = r.name;
    row.append(el('td', r.name), el('td', r.members, 'members'));
    return row;
  }));

  const waiting = s.deadLetterQueue.messages;
  setText('dlq-count', waiting === null ? '(' + s.deadLetterQueue.queue + ': count unavailable)' : '(' + waiting + ' waiting in ' + s.deadLetterQueue.queue + ')');
  // The list is fetched when the queue's length changes, not every second: listing takes the messages for a moment.
  if (waiting !== null && waiting !== shownQueueCount) {
    shownQueueCount = waiting;
    void loadDeadLetters();
  }
}

async function loadDeadLetters() {
  try {
    const data = await api('/dead-letters?limit=' + LISTED_DEAD_LETTERS);
    setText('dl-error', '');
    fill('#dead-letters tbody', data.messages.map((m) => {
      const row = el('tr');
      row.dataset.reason = m.reason || '';
      const body = el('td');
      body.append(el('pre', m.body + (m.bodyTruncated ? '\n… (truncated)' : '')));
      row.append(el('td', m.reason || '—', 'reason'), el('td', m.detail || '—', 'detail'), el('td', m.routingKey, 'routing-key'), el('td', m.size + ' B'), body);
      return row;
    }));
  } catch (err) {
    if (!handleAuthFailure(err)) setText('dl-error', 'dead letters: ' + describe(err));
  }
}

const describe = (err) => (err instanceof ApiError ? err.describe() : String((err && err.message) || err));

/** A refused token ends the session: the page asks for a new one. */
function handleAuthFailure(err) {
  if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) return false;
  signOut('token refused: ' + err.describe());
  return true;
}

function handleFrame(frame) {
  let event = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (event === 'snapshot') {
    render(JSON.parse(data.join('\n')));
    setStatus('live', 'ok');
  } else if (event === 'problem') {
    setStatus('live (last snapshot failed)', 'bad');
  }
}

/** The SSE stream, read with fetch (the browser's SSE client cannot send an Authorization header); reconnects until signed out. */
async function runStream() {
  const controller = new AbortController();
  stream = controller;
  try {
    const res = await fetch(API + '/ops/stream', { headers: authHeaders('text/event-stream'), signal: controller.signal, cache: 'no-store', credentials: 'omit' });
    if (!res.ok) throw await errorOf(res);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        handleFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (err) {
    if (controller.signal.aborted || handleAuthFailure(err)) return;
    setStatus('stream: ' + describe(err), 'bad');
  }
  if (stream !== controller || token === null) return;
  setStatus('reconnecting…', 'bad');
  reconnectTimer = setTimeout(runStream, RECONNECT_MS);
}

async function signIn() {
  const value = $('token').value.trim();
  $('token').value = '';
  if (!value) return setText('login-error', 'paste a token first');
  token = value;
  setText('login-error', '');
  setStatus('signing in…');
  try {
    const snapshot = await api('/ops/snapshot');
    $('login').hidden = true;
    $('dashboard').hidden = false;
    setText('whoami', 'signed in with an admin token');
    render(snapshot);
    void runStream();
  } catch (err) {
    signOut(describe(err));
  }
}

function signOut(message) {
  token = null;
  if (stream) stream.abort();
  stream = null;
  clearTimeout(reconnectTimer);
  shownQueueCount = undefined;
  for (const tbody of document.querySelectorAll('#dashboard tbody')) if (tbody.parentElement.id !== 'counters') tbody.replaceChildren();
  setText('replay-outcome', '');
  $('replay-confirm').hidden = true;
  $('dashboard').hidden = true;
  $('login').hidden = false;
  setText('login-error', message || '');
  setStatus('signed out');
  $('token').focus();
}

function askReplay() {
  const waiting = shownQueueCount === undefined ? 'the' : String(shownQueueCount);
  setText('replay-question', 'Publish ' + waiting + ' dead letter(s) (at most ' + REPLAY_LIMIT + ', oldest first) back to the exchange with their original routing keys? Ones that fail again return to the dead-letter queue.');
  setText('replay-outcome', '');
  $('replay-confirm').hidden = false;
  $('replay-yes').focus();
}

async function replay() {
  $('replay-confirm').hidden = true;
  $('replay').disabled = true;
  setText('replay-outcome', 'replaying…');
  try {
    const r = await api('/dead-letters/replay', { limit: REPLAY_LIMIT });
    setText('replay-outcome', 'Replayed ' + r.replayed + ', unroutable ' + r.unroutable + ', remaining ' + r.remaining + '.');
    await loadDeadLetters();
  } catch (err) {
    if (!handleAuthFailure(err)) setText('replay-outcome', 'replay failed: ' + describe(err));
  } finally {
    $('replay').disabled = false;
  }
}

$('login-button').addEventListener('click', () => void signIn());
$('token').addEventListener('keydown', (e) => { if (e.key === 'Enter') void signIn(); });
$('logout').addEventListener('click', () => signOut(''));
$('dl-refresh').addEventListener('click', () => void loadDeadLetters());
$('replay').addEventListener('click', askReplay);
$('replay-yes').addEventListener('click', () => void replay());
$('replay-no').addEventListener('click', () => { $('replay-confirm').hidden = true; setText('replay-outcome', 'replay cancelled'); });
`;
