import { createHash } from 'node:crypto';
import { INSPECTOR_SCRIPT } from './inspector-page.script.js';
import { INSPECTOR_STYLE } from './inspector-page.style.js';

// The page is one document with its own styles and script: nothing is fetched from
// anywhere but its API, so it works offline, and its Content-Security-Policy allows
// exactly this script and this style (by hash), and requests to its own origin only.
// Everything the API returns reaches the DOM through textContent, never as markup.

const BODY = String.raw`
<header class="top">
  <div class="brand">
    <span class="logo" aria-hidden="true"></span>
    <div><h1>nest-realtime <span>inspector</span></h1><p id="served">connecting&hellip;</p></div>
  </div>
  <dl class="totals">
    <div><dt>Nodes</dt><dd id="t-nodes">&ndash;</dd></div>
    <div><dt>Connections</dt><dd id="t-connections">&ndash;</dd></div>
    <div><dt>Rooms</dt><dd id="t-rooms">&ndash;</dd></div>
    <div><dt>Users</dt><dd id="t-users">&ndash;</dd></div>
    <div><dt>Published/s</dt><dd id="t-published">&ndash;</dd></div>
    <div><dt>Delivered/s</dt><dd id="t-delivered">&ndash;</dd></div>
    <div><dt>Sent</dt><dd id="t-bytes">&ndash;</dd></div>
  </dl>
  <input id="filter" class="filter" type="search" autocomplete="off" spellcheck="false"
    placeholder="Filter: connection id, user id, room" aria-label="Filter connections, users and rooms">
  <div id="live" class="live" data-state="connecting" role="status"><span class="dot"></span><span id="live-text">connecting</span></div>
</header>
<main>
  <section id="nodes-panel" class="panel" aria-labelledby="nodes-title">
    <header><h2 id="nodes-title">Nodes<span id="nodes-count" class="count"></span></h2></header>
    <div class="scroll"><table>
      <thead><tr><th>Node</th><th class="num">Uptime</th><th class="num">RSS</th><th class="num">Heap</th><th class="num">CPU</th><th>Engine</th><th>Connections</th><th class="num">Rooms</th><th class="num">Users</th><th class="num">Pub/s</th><th class="num">Deliv/s</th><th class="num">Sent/s</th></tr></thead>
      <tbody id="nodes-body"></tbody>
    </table></div>
  </section>
  <section id="connections-panel" class="panel" aria-labelledby="connections-title">
    <header><h2 id="connections-title">Connections<span id="connections-count" class="count"></span></h2><span id="connections-note" class="note"></span></header>
    <div class="scroll"><table>
      <thead><tr><th>Connection</th><th>Node</th><th>Transport</th><th>User</th><th class="num">Age</th><th>Rooms</th><th class="num">Buffered</th><th class="num">Rate limit</th><th class="num">Delivered</th><th class="num">Sent</th><th></th></tr></thead>
      <tbody id="connections-body"></tbody>
    </table><p id="connections-empty" class="empty">No connections</p></div>
  </section>
  <section id="users-panel" class="panel" aria-labelledby="users-title">
    <header><h2 id="users-title">Users<span id="users-count" class="count"></span></h2><span class="note">statuses of the room shown</span></header>
    <div class="scroll"><table>
      <thead><tr><th>User</th><th class="num">Connections</th><th>Nodes</th><th>Status</th><th></th></tr></thead>
      <tbody id="users-body"></tbody>
    </table><p id="users-empty" class="empty">No users</p></div>
  </section>
  <div class="side">
    <section id="rooms-panel" class="panel" aria-labelledby="rooms-title">
      <header><h2 id="rooms-title">Rooms<span id="rooms-count" class="count"></span></h2></header>
      <div class="scroll"><table>
        <thead><tr><th>Room</th><th class="num">Members</th><th>Nodes</th></tr></thead>
        <tbody id="rooms-body"></tbody>
      </table><p id="rooms-empty" class="empty">No rooms with members</p></div>
    </section>
    <section id="room-panel" class="panel" aria-labelledby="room-title">
      <header>
        <h2 id="room-title">Room</h2><span id="room-name" class="room-title"></span><span class="spacer"></span>
        <button id="room-delete" class="danger" type="button" hidden>Delete room</button>
        <button id="room-close" class="close" type="button" aria-label="Close the room" hidden>&times;</button>
      </header>
      <p id="room-empty" class="empty">Pick a room to see its members, publish to it and tail it.</p>
      <div id="room-body" class="room-body" hidden>
        <p id="room-error" class="result error" hidden></p>
        <dl class="facts">
          <div><dt>Members</dt><dd id="r-members"></dd></div>
          <div><dt>Messages/s</dt><dd id="r-rate"></dd></div>
          <div><dt>Offset</dt><dd id="r-offset"></dd></div>
          <div><dt>Kept</dt><dd id="r-kept"></dd></div>
          <div><dt>Epoch</dt><dd id="r-epoch" class="mono"></dd></div>
          <div><dt>Created</dt><dd id="r-created"></dd></div>
          <div><dt>Kind</dt><dd id="r-kind"></dd></div>
          <div><dt>Nodes</dt><dd id="r-nodes"></dd></div>
        </dl>
        <div class="split">
          <div><h3>Members by node <span id="r-members-note"></span></h3><ul id="r-by-node" class="bars"></ul><p id="r-none" class="muted" hidden>No members</p></div>
          <div><h3>Users</h3><ul id="r-users" class="chips"></ul><p id="r-no-users" class="muted" hidden>No users</p></div>
        </div>
        <form id="publish" class="publish" autocomplete="off">
          <input id="publish-event" value="inspector.test" aria-label="Event" spellcheck="false" required>
          <input id="publish-data" value='{"hello":"from the inspector"}' aria-label="Data (JSON)" spellcheck="false">
          <button id="publish-send" class="primary">Publish</button>
          <p id="publish-result" class="result" role="status"></p>
        </form>
        <section class="tail" aria-labelledby="tail-title">
          <header>
            <h3 id="tail-title">Live tail</h3><span id="tail-state" class="pill"></span><span id="tail-count" class="muted"></span>
            <span class="spacer"></span>
            <button id="tail-pause" type="button">Pause</button><button id="tail-clear" type="button">Clear</button>
          </header>
          <ol id="tail-lines" aria-live="off"></ol>
          <p id="tail-empty" class="empty">Messages published to the room appear here as they happen.</p>
        </section>
      </div>
    </section>
  </div>
</main>
<div id="toasts" class="toasts" aria-live="polite"></div>
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Allows this page's own script and style, and requests to its own origin; nothing else. */
const POLICY = [
  "default-src 'none'",
  `script-src ${hash(INSPECTOR_SCRIPT)}`,
  `style-src ${hash(INSPECTOR_STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** `text` safe inside a double-quoted HTML attribute. */
function attribute(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The inspector's page: one HTML document with its styles and script, served from
 * `base` (the page's own path; its API is under `<base>/api`). It fetches nothing from
 * elsewhere, and its Content-Security-Policy allows only its own script, its own style
 * and requests to its own origin.
 *
 * @example
 * ```ts
 * response.end(inspectorPage('/realtime/inspector'));
 * ```
 */
export function inspectorPage(base: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>Inspector &middot; nest-realtime</title>
<link rel="icon" href="data:,">
<style>${INSPECTOR_STYLE}</style>
</head>
<body data-api="${attribute(`${base}/api`)}">${BODY}<script>${INSPECTOR_SCRIPT}</script>
</body>
</html>
`;
}
