/**
 * The inspector page's script (see inspector-page.ts), plain browser JavaScript of our
 * own: it reads the API base from the body's `data-api`, polls the snapshot once a
 * second while the tab is visible, and puts every text it shows through textContent.
 * Its text is hashed into the page's Content-Security-Policy, so it is one constant.
 *
 * @example
 * ```ts
 * const js: string = INSPECTOR_SCRIPT;
 * ```
 */
export const INSPECTOR_SCRIPT = String.raw`
'use strict';
const api = document.body.dataset.api;
/** ms between two snapshots, while the tab is visible (none while it is hidden). */
const POLL = 1000;
/** Lines a room's tail keeps. */
const TAIL_LINES = 500;
/** ms a node that stopped answering stays listed, dimmed. */
const NODE_STALE = 15000;
const $ = (id) => document.getElementById(id);

// -- formatting -----------------------------------------------------------------
const integer = new Intl.NumberFormat('en');
const DASH = '\u2013';
function number(value) { return integer.format(value); }
function bytes(value) {
  if (value < 1024) return Math.round(value) + ' B';
  const units = ['KB', 'MB', 'GB', 'TB'];
  let unit = -1;
  do { value /= 1024; unit++; } while (value >= 1024 && unit < units.length - 1);
  return (value >= 100 ? value.toFixed(0) : value.toFixed(1)) + ' ' + units[unit];
}
function perSecond(value) {
  if (value === undefined) return DASH;
  if (value === 0) return '0';
  if (value >= 100) return integer.format(Math.round(value));
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}
function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + (s % 60) + 's';
  const h = Math.floor(m / 60);
  if (h < 24) return h + 'h ' + (m % 60) + 'm';
  return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
}
function clock(ms) {
  const at = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return two(at.getHours()) + ':' + two(at.getMinutes()) + ':' + two(at.getSeconds()) + '.' +
    String(at.getMilliseconds()).padStart(3, '0');
}
const TRANSPORTS = { websocket: 'ws', sse: 'sse', grpc: 'grpc', webrtc: 'webrtc' };

// -- the DOM: text only, written when it changed ----------------------------------
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}
function setTitle(node, text) { if (node.title !== text) node.title = text; }
function setClass(node, className) { if (node.className !== className) node.className = className; }
function show(node, shown) { if (node.hidden === shown) node.hidden = !shown; }
function setWidth(node, share) {
  const width = Math.round(Math.max(0, Math.min(1, share)) * 100) + '%';
  if (node.style.width !== width) node.style.width = width;
}
/** A row of cells, each with its class; the cells by name. */
function row(columns) {
  const tr = el('tr');
  const cells = {};
  for (const [name, className] of columns) cells[name] = tr.appendChild(el('td', className));
  return { node: tr, cells };
}
/**
 * Keeps the children of container in the order of the items, one node per key: made
 * once, updated in place, moved only when the order changed, removed when its key goes.
 */
function keyed(container, make, update) {
  const entries = new Map();
  return {
    render(items, keyOf) {
      const seen = new Set();
      let at = container.firstElementChild;
      for (const item of items) {
        const key = keyOf(item);
        seen.add(key);
        let entry = entries.get(key);
        if (!entry) {
          entry = make(key);
          entries.set(key, entry);
        }
        update(entry, item);
        if (entry.node === at) at = at.nextElementSibling;
        else container.insertBefore(entry.node, at);
      }
      for (const [key, entry] of entries) {
        if (!seen.has(key)) {
          entry.node.remove();
          entries.delete(key);
        }
      }
    },
  };
}

// -- the API --------------------------------------------------------------------
/** A request to the API (with the page's cookies); its answer, or an Error with the API's message. */
async function call(method, path, body) {
  let response;
  try {
    response = await fetch(api + path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error('the server cannot be reached');
  }
  let answer = null;
  try { answer = await response.json(); } catch { /* no JSON: the status says it */ }
  if (response.ok) return answer;
  const error = answer && answer.error;
  if (error && error.message) throw new Error((error.code ? error.code + ': ' : '') + error.message);
  throw new Error('HTTP ' + response.status + (answer && answer.message ? ': ' + answer.message : ''));
}

function toast(kind, text) {
  const box = $('toasts');
  const item = box.appendChild(el('div', 'toast ' + kind, text));
  while (box.childElementCount > 4) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 4500);
}

/** Runs an action of a button: disabled meanwhile, its result or error told. */
async function act(button, work, done) {
  button.disabled = true;
  try {
    toast('ok', done(await work()));
    pollNow();
  } catch (error) {
    toast('error', error.message);
  } finally {
    button.disabled = false;
  }
}

// -- what the page shows, and from where --------------------------------------------
const view = {
  query: '',
  room: null,
  /**
   * Each node seen: its last report (for which filter), its rates, when it last answered,
   * and whether it missed the last snapshot (its rows are then kept, dimmed: no flicker).
   */
  nodes: new Map(),
  /** Users' statuses, as the room shown last reported them. */
  statuses: new Map(),
  /** The shown room's last offset, for its message rate. */
  roomMark: null,
  self: '',
};

function remember() {
  const params = new URLSearchParams();
  if (view.query) params.set('q', view.query);
  if (view.room !== null) params.set('room', view.room);
  const hash = params.toString();
  history.replaceState(null, '', hash ? '#' + hash : location.pathname + location.search);
}

// -- polling: once a second while the tab is visible ----------------------------------
let timer = 0;
let inFlight = false;
let again = false;
function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(tick, ms);
}
/** A snapshot now (after the one in flight, if any). */
function pollNow() {
  if (inFlight) again = true;
  else if (!document.hidden) schedule(0);
}
async function tick() {
  timer = 0;
  inFlight = true;
  again = false;
  const started = performance.now();
  try {
    await Promise.all([refreshSnapshot(), refreshRoom()]);
  } catch (error) {
    reportError(error); // a fault of the page's own: told, and the polling goes on
  } finally {
    inFlight = false;
  }
  if (!document.hidden) schedule(again ? 0 : Math.max(0, POLL - (performance.now() - started)));
}
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    clearTimeout(timer);
    timer = 0;
  } else {
    pollNow();
  }
});

function setLive(state, text, title) {
  const live = $('live');
  if (live.dataset.state !== state) live.dataset.state = state;
  setText($('live-text'), text);
  setTitle(live, title);
}

async function refreshSnapshot() {
  const query = view.query;
  let snapshot;
  try {
    snapshot = await call('GET', '/snapshot?q=' + encodeURIComponent(query));
  } catch (error) {
    setLive('error', error.message, 'the last snapshot failed at ' + clock(Date.now()));
    return;
  }
  if (query !== view.query) return; // the filter changed meanwhile: the next one shows it
  showSnapshot(snapshot);
  setLive('live', 'live', 'updated ' + clock(Date.now()));
}

// -- the snapshot ---------------------------------------------------------------------
/** Rates of a node's counters, from its previous report to this one. */
function ratesOf(before, node) {
  if (!before || node.at <= before.part.node.at) return before ? before.rates : undefined;
  const seconds = (node.at - before.part.node.at) / 1000;
  const delta = (name) => Math.max(0, node[name] - before.part.node[name]) / seconds;
  return { published: delta('published'), delivered: delta('delivered'), bytesSent: delta('bytesSent') };
}

function showSnapshot(snapshot) {
  const now = Date.now();
  view.self = snapshot.self;
  const answered = new Set();
  for (const part of snapshot.nodes) {
    answered.add(part.node.id);
    const before = view.nodes.get(part.node.id);
    view.nodes.set(part.node.id, { part, rates: ratesOf(before, part.node), seen: now, query: view.query });
  }
  for (const [id, known] of view.nodes) {
    if (now - known.seen > NODE_STALE) view.nodes.delete(id);
    else known.stale = !answered.has(id);
  }
  // The page's node first, then by id, as the API lists them.
  const known = [...view.nodes.values()].sort((a, b) =>
    (b.part.node.id === view.self) - (a.part.node.id === view.self) ||
    (a.part.node.id < b.part.node.id ? -1 : 1));
  // What each node reported for this filter: the silent ones' last report too.
  const parts = known.filter((item) => item.query === view.query);
  setText($('served'), 'served by node ' + snapshot.self);
  showTotals(known, parts);
  nodeRows.render(known, (item) => item.part.node.id);
  setText($('nodes-count'), number(known.length));
  showConnections(parts);
  showRooms(parts);
  showUsers(parts);
}

/** Distinct names across the nodes' lists; exact only unfiltered and when no list was cut. */
function distinct(parts, list, field, total) {
  const names = new Set();
  let complete = view.query === '';
  let most = 0;
  for (const { part } of parts) {
    for (const item of part[list]) names.add(item[field]);
    if (part[list].length < part.node[total]) complete = false;
    most = Math.max(most, part.node[total]);
  }
  return complete ? number(names.size) : '\u2265 ' + number(Math.max(names.size, most));
}

function showTotals(known, parts) {
  let connections = 0;
  const sums = { published: 0, delivered: 0, bytesSent: 0 };
  let rated = false;
  for (const { part, rates, stale } of known) {
    connections += part.node.connections;
    if (!rates || stale) continue;
    rated = true;
    for (const name in sums) sums[name] += rates[name];
  }
  setText($('t-nodes'), number(known.length));
  setText($('t-connections'), number(connections));
  setText($('t-rooms'), distinct(parts, 'rooms', 'name', 'rooms'));
  setText($('t-users'), distinct(parts, 'users', 'userId', 'users'));
  setText($('t-published'), rated ? perSecond(sums.published) : DASH);
  setText($('t-delivered'), rated ? perSecond(sums.delivered) : DASH);
  setText($('t-bytes'), rated ? bytes(sums.bytesSent) + '/s' : DASH);
}

const nodeRows = keyed($('nodes-body'), (id) => {
  const entry = row([
    ['id', ''], ['uptime', 'num'], ['rss', 'num'], ['heap', 'num'], ['cpu', 'num'],
    ['engine', ''], ['connections', ''], ['rooms', 'num'], ['users', 'num'],
    ['published', 'num'], ['delivered', 'num'], ['bytes', 'num'],
  ]);
  const { cells } = entry;
  cells.id.append(el('span', 'mono', id));
  entry.self = cells.id.appendChild(el('span', 'pill accent', 'this page'));
  entry.cpu = cells.cpu.appendChild(el('span'));
  entry.cpuBar = cells.cpu.appendChild(el('span', 'bar')).appendChild(el('i'));
  entry.engine = cells.engine.appendChild(el('span', 'pill'));
  entry.total = cells.connections.appendChild(el('span', 'mono'));
  entry.byTransport = cells.connections.appendChild(el('span', 'breakdown'));
  return entry;
}, (entry, { part: { node }, rates, stale }) => {
  const { cells } = entry;
  entry.node.classList.toggle('stale', stale);
  setTitle(entry.node, stale ? 'no answer since ' + clock(node.at) : '');
  show(entry.self, node.id === view.self);
  setText(cells.uptime, age(node.uptime));
  setText(cells.rss, bytes(node.rss));
  setText(cells.heap, bytes(node.heapUsed));
  setText(entry.cpu, Math.round(node.cpu * 100) + '%');
  setWidth(entry.cpuBar, node.cpu);
  setText(entry.engine, stale ? 'no answer' : node.engineAvailable ? 'up' : 'down');
  setClass(entry.engine, 'pill ' + (stale ? 'warn' : node.engineAvailable ? 'ok' : 'bad'));
  setText(entry.total, number(node.connections));
  const parts = Object.entries(node.byTransport)
    .filter(([, n]) => n > 0)
    .map(([transport, n]) => (TRANSPORTS[transport] || transport) + ' ' + number(n));
  setText(entry.byTransport, parts.join(' \u00b7 '));
  setText(cells.rooms, number(node.rooms));
  setText(cells.users, number(node.users));
  setText(cells.published, perSecond(rates && rates.published));
  setText(cells.delivered, perSecond(rates && rates.delivered));
  setText(cells.bytes, rates ? bytes(rates.bytesSent) + '/s' : DASH);
});

const connectionRows = keyed($('connections-body'), (id) => {
  const entry = row([
    ['id', 'mono clip'], ['node', 'mono'], ['transport', ''], ['user', 'clip'], ['age', 'num'],
    ['rooms', ''], ['buffered', 'num'], ['rate', 'num'], ['delivered', 'num'], ['sent', 'num'],
    ['action', 'num'],
  ]);
  const { cells } = entry;
  cells.id.textContent = id;
  cells.id.title = id;
  entry.transport = cells.transport.appendChild(el('span', 'pill'));
  entry.roomsKey = null;
  const button = cells.action.appendChild(el('button', 'danger', 'Disconnect'));
  button.type = 'button';
  button.title = 'Close this connection (4500)';
  button.addEventListener('click', () => {
    entry.node.classList.add('leaving');
    act(button, () => call('POST', '/disconnect', { connectionId: id }), () => 'Disconnected ' + id)
      .finally(() => entry.node.classList.remove('leaving'));
  });
  return entry;
}, (entry, { connection, now, stale }) => {
  const { cells } = entry;
  entry.node.classList.toggle('stale', stale);
  setText(cells.node, connection.node);
  setText(entry.transport, TRANSPORTS[connection.transport] || connection.transport);
  setTitle(entry.transport, connection.transport);
  setText(cells.user, connection.userId === null ? 'anonymous' : connection.userId);
  cells.user.classList.toggle('muted', connection.userId === null);
  setTitle(cells.user, connection.userId === null ? '' : connection.userId);
  setText(cells.age, age((now - connection.openedAt) / 1000));
  const roomsKey = connection.roomCount + '\n' + connection.rooms.join('\n');
  if (entry.roomsKey !== roomsKey) {
    entry.roomsKey = roomsKey;
    cells.rooms.replaceChildren();
    const shown = connection.rooms.slice(0, 2);
    for (const name of shown) {
      const chip = cells.rooms.appendChild(el('button', 'chip', name));
      chip.type = 'button';
      chip.title = 'Show room ' + name;
      chip.addEventListener('click', () => selectRoom(name));
    }
    if (connection.roomCount > shown.length) {
      cells.rooms.append(el('span', 'more', '+' + number(connection.roomCount - shown.length)));
    }
    if (connection.roomCount === 0) cells.rooms.append(el('span', 'muted', DASH));
  }
  setText(cells.buffered, bytes(connection.buffered));
  setClass(cells.buffered, 'num ' + (connection.congested ? 'bad-text' : connection.buffered > 0 ? 'warn-text' : ''));
  setTitle(cells.buffered, connection.congested ? 'congested: past its send buffer\'s bound' : '');
  const limit = connection.rateLimit;
  if (limit === null) {
    setText(cells.rate, DASH);
    setClass(cells.rate, 'num muted');
  } else {
    const refused = limit.refusedInARow > 0 ? '  refused \u00d7' + limit.refusedInARow : '';
    setText(cells.rate, Math.floor(limit.messages) + ' \u00b7 ' + bytes(limit.bytes) + refused);
    setClass(cells.rate, 'num ' + (refused ? 'bad-text' : limit.messages < 1 ? 'warn-text' : ''));
  }
  setTitle(cells.rate, 'tokens left: messages \u00b7 bytes (and refusals in a row)');
  setText(cells.delivered, number(connection.delivered));
  setText(cells.sent, number(connection.framesSent) + ' \u00b7 ' + bytes(connection.bytesSent));
  setTitle(cells.sent, 'frames \u00b7 bytes sent');
});

function showConnections(parts) {
  const items = [];
  let matched = 0;
  for (const { part, stale } of parts) {
    matched += part.connectionsMatched;
    for (const connection of part.connections) items.push({ connection, now: part.node.at, stale });
  }
  // The congested first, then the most bytes waiting, then the oldest.
  items.sort((a, b) =>
    b.connection.congested - a.connection.congested ||
    b.connection.buffered - a.connection.buffered ||
    a.connection.openedAt - b.connection.openedAt ||
    (a.connection.id < b.connection.id ? -1 : 1));
  connectionRows.render(items, (item) => item.connection.id);
  setText($('connections-count'), number(matched));
  setText($('connections-note'), items.length < matched ? 'the busiest ' + number(items.length) + ' shown' : view.query ? 'matching \u201c' + view.query + '\u201d' : '');
  show($('connections-empty'), items.length === 0);
}

const roomRows = keyed($('rooms-body'), (name) => {
  const entry = row([['name', 'clip'], ['members', 'num'], ['nodes', 'mono clip']]);
  const button = entry.cells.name.appendChild(el('button', 'link mono', name));
  button.type = 'button';
  button.title = name;
  entry.node.addEventListener('click', () => selectRoom(name));
  return entry;
}, (entry, room) => {
  entry.node.classList.toggle('selected', room.name === view.room);
  setText(entry.cells.members, number(room.members));
  const nodes = room.nodes.join(', ');
  setText(entry.cells.nodes, nodes);
  setTitle(entry.cells.nodes, nodes);
});

/** The nodes' lists merged by key: counts summed, the nodes listed. */
function merged(parts, list, key, count) {
  const all = new Map();
  for (const { part } of parts) {
    for (const item of part[list]) {
      const name = item[key];
      const into = all.get(name) || { name, count: 0, nodes: [] };
      into.count += item[count];
      into.nodes.push(part.node.id);
      all.set(name, into);
    }
  }
  return [...all.values()].sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
}

let rooms = [];
function showRooms(parts) {
  rooms = merged(parts, 'rooms', 'name', 'members').map(({ name, count, nodes }) => ({ name, members: count, nodes }));
  renderRooms();
}
function renderRooms() {
  roomRows.render(rooms, (room) => room.name);
  setText($('rooms-count'), number(rooms.length));
  show($('rooms-empty'), rooms.length === 0);
}

const userRows = keyed($('users-body'), (userId) => {
  const entry = row([['user', 'clip'], ['connections', 'num'], ['nodes', 'mono clip'], ['status', ''], ['action', 'num']]);
  const { cells } = entry;
  const name = cells.user.appendChild(el('button', 'link', userId));
  name.type = 'button';
  name.title = 'Filter by ' + userId;
  name.addEventListener('click', () => setQuery(userId));
  entry.dot = cells.status.appendChild(el('span', 'status'));
  entry.status = cells.status.appendChild(el('span'));
  const button = cells.action.appendChild(el('button', 'danger', 'Disconnect user'));
  button.type = 'button';
  button.addEventListener('click', () => {
    if (!confirm('Disconnect every connection of ' + userId + ', on every node?')) return;
    act(button, () => call('POST', '/disconnect', { userId }), () => 'Disconnected user ' + userId);
  });
  return entry;
}, (entry, user) => {
  setText(entry.cells.connections, number(user.count));
  const nodes = user.nodes.join(', ');
  setText(entry.cells.nodes, nodes);
  setTitle(entry.cells.nodes, nodes);
  const status = view.statuses.get(user.name);
  show(entry.dot, status !== undefined);
  setClass(entry.dot, 'status ' + (status || ''));
  setText(entry.status, status === undefined ? DASH : status);
  setClass(entry.status, status === undefined ? 'muted' : '');
  setTitle(entry.cells.status, status === undefined ? 'shown for the users of the room shown' : '');
});

let users = [];
function showUsers(parts) {
  users = merged(parts, 'users', 'userId', 'connections');
  renderUsers();
}
function renderUsers() {
  userRows.render(users, (user) => user.name);
  setText($('users-count'), number(users.length));
  show($('users-empty'), users.length === 0);
}

// -- the filter ---------------------------------------------------------------------
let typing = 0;
function setQuery(query) {
  $('filter').value = query;
  applyQuery();
}
function applyQuery() {
  clearTimeout(typing);
  view.query = $('filter').value.trim();
  remember();
  pollNow();
}
$('filter').addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(applyQuery, 200);
});
$('filter').addEventListener('keydown', (event) => {
  if (event.key === 'Enter') applyQuery();
  if (event.key === 'Escape') setQuery('');
});

// -- a room ---------------------------------------------------------------------------
function selectRoom(name) {
  if (name === view.room) return;
  view.room = name;
  view.roomMark = null;
  remember();
  setText($('room-name'), name);
  setTitle($('room-name'), name);
  show($('room-empty'), false);
  show($('room-body'), true);
  show($('room-delete'), true);
  show($('room-close'), true);
  show($('room-error'), false);
  setText($('publish-result'), '');
  for (const id of ['r-members', 'r-rate', 'r-offset', 'r-kept', 'r-epoch', 'r-created', 'r-kind', 'r-nodes']) setText($(id), DASH);
  memberNodes.render([], () => '');
  roomUsers.render([], () => '');
  renderRooms();
  openTail(name);
  pollNow();
}
function closeRoom() {
  view.room = null;
  remember();
  closeTail();
  setText($('room-name'), '');
  show($('room-empty'), true);
  show($('room-body'), false);
  show($('room-delete'), false);
  show($('room-close'), false);
  view.statuses.clear();
  renderRooms();
  renderUsers();
}
$('room-close').addEventListener('click', closeRoom);

async function refreshRoom() {
  const name = view.room;
  if (name === null) return;
  let room;
  try {
    room = await call('GET', '/room?name=' + encodeURIComponent(name));
  } catch (error) {
    if (name !== view.room) return;
    setText($('room-error'), error.message);
    show($('room-error'), true);
    return;
  }
  if (name === view.room) showRoom(room);
}

const memberNodes = keyed($('r-by-node'), (nodeId) => {
  const node = el('li');
  node.append(el('span', 'mono', nodeId));
  const bar = node.appendChild(el('span', 'bar')).appendChild(el('i'));
  return { node, bar, count: node.appendChild(el('span', 'num')) };
}, (entry, { members, share }) => {
  setWidth(entry.bar, share);
  setText(entry.count, number(members));
});

const roomUsers = keyed($('r-users'), (userId) => {
  const node = el('li');
  const dot = node.appendChild(el('span', 'status'));
  node.append(el('span', '', userId));
  return { node, dot, status: node.appendChild(el('span', 'muted')) };
}, (entry, { presence }) => {
  const status = presence ? presence.status : '';
  setClass(entry.dot, 'status ' + status);
  show(entry.dot, !!presence);
  setText(entry.status, status);
  setTitle(entry.node, presence && presence.since ? status + ' since ' + clock(presence.since) : '');
});

function showRoom(room) {
  show($('room-error'), false);
  const at = Date.now();
  const { epoch, offset, kept } = room.stream;
  // Offsets count from a room's epoch: a new epoch starts the rate again.
  const mark = view.roomMark;
  const rate = mark && mark.epoch === epoch && at > mark.at
    ? Math.max(0, offset - mark.offset) / ((at - mark.at) / 1000)
    : undefined;
  view.roomMark = { epoch, offset, at };
  setText($('r-members'), number(room.memberCount));
  setText($('r-rate'), perSecond(rate));
  setText($('r-offset'), number(offset));
  setText($('r-kept'), number(kept));
  setText($('r-epoch'), epoch);
  setTitle($('r-epoch'), epoch);
  setText($('r-created'), room.info ? age((at - room.info.created) / 1000) + ' ago' : 'no record');
  setText($('r-kind'), room.info ? (room.info.persistent ? 'persistent' : 'transient') : DASH);
  const byNode = new Map();
  for (const member of room.members) byNode.set(member.nodeId, (byNode.get(member.nodeId) || 0) + 1);
  const most = Math.max(1, ...byNode.values());
  const nodes = [...byNode].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([nodeId, members]) => ({ nodeId, members, share: members / most }));
  setText($('r-nodes'), number(byNode.size));
  memberNodes.render(nodes, (item) => item.nodeId);
  const listed = room.memberCount > room.members.length ? 'first ' + number(room.members.length) + ' of ' + number(room.memberCount) : '';
  setText($('r-members-note'), listed);
  show($('r-none'), room.members.length === 0);
  const order = { online: 0, busy: 1, away: 2, invisible: 3, offline: 4 };
  const roomUsersSorted = room.users.slice().sort((a, b) =>
    (a.presence ? order[a.presence.status] : 5) - (b.presence ? order[b.presence.status] : 5) ||
    (a.userId < b.userId ? -1 : 1));
  roomUsers.render(roomUsersSorted, (user) => user.userId);
  show($('r-no-users'), room.users.length === 0);
  view.statuses.clear();
  for (const user of room.users) if (user.presence) view.statuses.set(user.userId, user.presence.status);
  renderUsers();
}

$('room-delete').addEventListener('click', () => {
  const name = view.room;
  if (name === null || !confirm('Delete room ' + name + ' on every node? Its members leave it.')) return;
  act($('room-delete'), () => call('POST', '/rooms/delete', { room: name }),
    (answer) => answer.deleted ? 'Deleted room ' + name : 'Room ' + name + ' had nothing to delete');
});

$('publish').addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = $('publish-result');
  const name = view.room;
  const text = $('publish-data').value.trim();
  let data = null;
  try {
    if (text !== '') data = JSON.parse(text);
  } catch (error) {
    setClass(result, 'result error');
    setText(result, 'The data is not JSON: ' + error.message);
    return;
  }
  const button = $('publish-send');
  button.disabled = true;
  try {
    const answer = await call('POST', '/publish', { room: name, event: $('publish-event').value, data });
    setClass(result, 'result ok');
    setText(result, 'Published to ' + name + ' at offset ' + answer.offset + ' (epoch ' + answer.epoch + ')');
    pollNow();
  } catch (error) {
    setClass(result, 'result error');
    setText(result, error.message);
  } finally {
    button.disabled = false;
  }
});

// -- a room's live tail ---------------------------------------------------------------
const tail = { source: null, paused: false, held: [] };

function setTailState(state) {
  const pill = $('tail-state');
  setText(pill, state);
  setClass(pill, 'pill ' + ({ live: 'ok', connecting: '', reconnecting: 'warn', closed: 'bad' }[state] || ''));
}
function closeTail() {
  if (tail.source) tail.source.close();
  tail.source = null;
  tail.held = [];
  $('tail-lines').replaceChildren();
  showTailCount();
}
function openTail(name) {
  closeTail();
  const source = new EventSource(api + '/tail?room=' + encodeURIComponent(name));
  tail.source = source;
  setTailState('connecting');
  source.addEventListener('ready', () => setTailState('live'));
  source.addEventListener('message', (event) => addLine(tailLine(JSON.parse(event.data))));
  source.addEventListener('skipped', (event) => {
    addLine(noticeLine(event.data + ' messages skipped: the page read too slowly'));
  });
  source.addEventListener('error', () => {
    if (source === tail.source) setTailState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  });
}
function tailLine(message) {
  const line = el('li');
  line.append(el('time', '', clock(message.at)), el('span', 'offset', message.offset === null ? '' : '#' + message.offset), el('span', 'event', message.event || '(no event)'));
  let text = message.text;
  if (!message.truncated) {
    try {
      const frame = JSON.parse(message.text);
      // The data alone, its JSON spaced to wrap between values.
      if (frame && typeof frame === 'object' && 'data' in frame) text = JSON.stringify(frame.data, null, 1).replace(/\n */g, ' ');
    } catch { /* not JSON: shown as it came */ }
  }
  const code = line.appendChild(el('code', '', message.truncated ? text + ' \u2026 (cut at 4 KiB)' : text));
  code.title = message.text;
  return line;
}
function noticeLine(text) {
  const line = el('li', 'notice');
  line.append(el('time', '', clock(Date.now())), el('span', '', text));
  return line;
}
function addLine(line) {
  if (tail.paused) {
    tail.held.push(line);
    if (tail.held.length > TAIL_LINES) tail.held.shift();
    showTailCount();
    return;
  }
  const list = $('tail-lines');
  const stuck = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  list.append(line);
  while (list.childElementCount > TAIL_LINES) list.firstElementChild.remove();
  if (stuck) list.scrollTop = list.scrollHeight;
  showTailCount();
}
function showTailCount() {
  const lines = $('tail-lines').childElementCount;
  setText($('tail-count'), number(lines) + (lines === 1 ? ' line' : ' lines'));
  show($('tail-empty'), lines === 0 && tail.held.length === 0);
  setText($('tail-pause'), tail.paused ? 'Resume' + (tail.held.length ? ' (' + tail.held.length + ')' : '') : 'Pause');
}
$('tail-pause').addEventListener('click', () => {
  tail.paused = !tail.paused;
  if (!tail.paused) {
    const held = tail.held;
    tail.held = [];
    for (const line of held) addLine(line);
  }
  showTailCount();
});
$('tail-clear').addEventListener('click', () => {
  tail.held = [];
  $('tail-lines').replaceChildren();
  showTailCount();
});

// -- start: from the link's #q=...&room=... -------------------------------------------
{
  const params = new URLSearchParams(location.hash.slice(1));
  $('filter').value = params.get('q') || '';
  view.query = $('filter').value.trim();
  const room = params.get('room');
  if (room) selectRoom(room);
  showTailCount();
  pollNow();
}
`;
