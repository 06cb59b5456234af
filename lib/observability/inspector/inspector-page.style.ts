/**
 * The inspector page's style sheet (see inspector-page.ts): its text is hashed into the
 * page's Content-Security-Policy, so it is one constant.
 *
 * @example
 * ```ts
 * const css: string = INSPECTOR_STYLE;
 * ```
 */
export const INSPECTOR_STYLE = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f3f4f7; --panel: #fff; --panel-2: #f8f9fb; --line: #e3e6eb; --line-2: #eef0f4;
  --text: #1a1e24; --muted: #616b7a; --faint: #9aa3b1;
  --accent: #2f62e6; --accent-soft: #e8eefc; --on-accent: #fff;
  --ok: #0f7a55; --ok-soft: #def4ea; --warn: #a85b06; --warn-soft: #fcf0dc;
  --bad: #c41230; --bad-soft: #fce6e9; --brand: #e0234e;
  --mono: ui-monospace, "SF Mono", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Liberation Sans", "DejaVu Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0c0f13; --panel: #141920; --panel-2: #1a2029; --line: #262d37; --line-2: #1e242c;
    --text: #e3e8ef; --muted: #8f9aaa; --faint: #5d6878;
    --accent: #7ea3ff; --accent-soft: #1b2947; --on-accent: #0c0f13;
    --ok: #44d19a; --ok-soft: #12302a; --warn: #f3a83b; --warn-soft: #392912;
    --bad: #ff6b80; --bad-soft: #3b1a22;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; height: 100%; }
body {
  display: flex; flex-direction: column; background: var(--bg); color: var(--text);
  font: 13px/1.45 var(--sans); -webkit-font-smoothing: antialiased;
}
button, input { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
h1, h2, h3 { margin: 0; }
ul, ol { list-style: none; margin: 0; padding: 0; }
.mono { font-family: var(--mono); font-size: 12px; }
.muted { color: var(--muted); }
.num { text-align: right; font-variant-numeric: tabular-nums; }

.top {
  display: flex; align-items: center; gap: 18px; padding: 9px 16px;
  background: var(--panel); border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: center; gap: 10px; min-width: 210px; }
.logo {
  position: relative; flex: none; width: 28px; height: 28px; border-radius: 8px;
  background: linear-gradient(135deg, var(--brand), #ff8a5c);
}
.logo::before, .logo::after {
  content: ""; position: absolute; border-radius: 50%; border: 2px solid #fff;
}
.logo::before { inset: 7px; }
.logo::after { inset: 12px; background: #fff; }
h1 { font-size: 14px; font-weight: 650; }
h1 span { color: var(--muted); font-weight: 500; }
.brand p { margin: 0; font-size: 11.5px; color: var(--muted); white-space: nowrap; }
.totals { display: flex; flex: 1; margin: 0; min-width: 0; }
.totals div { padding: 1px 16px; border-left: 1px solid var(--line); }
.totals dt, .facts dt, h3 {
  font-size: 10.5px; font-weight: 600; letter-spacing: .05em; text-transform: uppercase;
  color: var(--muted); white-space: nowrap;
}
.totals dd { margin: 0; font-size: 19px; font-weight: 650; font-variant-numeric: tabular-nums; }
.totals small { font-size: 11px; font-weight: 500; color: var(--muted); margin-left: 2px; }
.filter {
  width: 270px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 8px;
  background: var(--panel-2);
}
.live { display: flex; align-items: center; gap: 7px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.dot { flex: none; width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.live[data-state="live"] .dot { background: var(--ok); box-shadow: 0 0 0 3px var(--ok-soft); }
.live[data-state="error"] { color: var(--bad); }
.live[data-state="error"] .dot { background: var(--bad); box-shadow: 0 0 0 3px var(--bad-soft); }

main {
  flex: 1; min-height: 0; display: grid; gap: 12px; padding: 12px;
  grid-template-columns: minmax(0, 1fr) 420px;
  grid-template-rows: auto minmax(0, 1.25fr) minmax(0, 1fr);
  grid-template-areas: "nodes side" "connections side" "users side";
}
#nodes-panel { grid-area: nodes; }
#connections-panel { grid-area: connections; }
#users-panel { grid-area: users; }
.side { grid-area: side; display: flex; flex-direction: column; gap: 12px; min-height: 0; }
.panel {
  display: flex; flex-direction: column; min-height: 0; overflow: hidden;
  background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
}
.panel > header {
  display: flex; align-items: center; gap: 8px; min-height: 40px; padding: 6px 12px;
  border-bottom: 1px solid var(--line);
}
h2 { font-size: 12.5px; font-weight: 650; }
.count { margin-left: 4px; color: var(--muted); font-weight: 500; font-variant-numeric: tabular-nums; }
.note { margin-left: auto; color: var(--muted); font-size: 11.5px; }
.scroll { flex: 1; min-height: 0; overflow: auto; }
#nodes-panel .scroll { max-height: 30vh; }
#rooms-panel { flex: 0 1 auto; max-height: 31%; }
#room-panel { flex: 1 1 0; }
.empty { margin: 0; padding: 18px 12px; text-align: center; color: var(--muted); }

table { width: 100%; border-collapse: separate; border-spacing: 0; }
th {
  position: sticky; top: 0; z-index: 1; padding: 6px 8px; text-align: left;
  background: var(--panel-2); border-bottom: 1px solid var(--line);
  font-size: 10.5px; font-weight: 600; letter-spacing: .05em; text-transform: uppercase;
  color: var(--muted); white-space: nowrap;
}
th.num { text-align: right; }
td { padding: 5px 8px; border-bottom: 1px solid var(--line-2); white-space: nowrap; }
th:first-child, td:first-child { padding-left: 12px; }
th:last-child, td:last-child { padding-right: 12px; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:hover td { background: var(--panel-2); }
tr.stale td { opacity: .45; }
tr.leaving td { opacity: .4; }
.clip { max-width: 170px; overflow: hidden; text-overflow: ellipsis; }
.breakdown { margin-left: 8px; color: var(--muted); }
.sub { display: block; font-size: 11px; color: var(--muted); }

.pill {
  display: inline-block; padding: 0 7px; border-radius: 999px; line-height: 18px;
  font-size: 11px; font-weight: 600; background: var(--line-2); color: var(--muted);
}
.pill.ok { background: var(--ok-soft); color: var(--ok); }
.pill.warn { background: var(--warn-soft); color: var(--warn); }
.pill.bad { background: var(--bad-soft); color: var(--bad); }
.pill.accent { background: var(--accent-soft); color: var(--accent); }
.pill + .pill, .mono + .pill { margin-left: 6px; }
.warn-text { color: var(--warn); }
.bad-text { color: var(--bad); font-weight: 600; }

button {
  padding: 3px 10px; border: 1px solid var(--line); border-radius: 6px; cursor: pointer;
  background: var(--panel); font-size: 12px; font-weight: 550;
}
button:hover { border-color: var(--faint); }
button:disabled { opacity: .5; cursor: default; }
button.danger { color: var(--bad); }
button.danger:hover:not(:disabled) { background: var(--bad-soft); border-color: var(--bad); }
td button.danger { border-color: transparent; background: none; color: var(--muted); }
tr:hover td button.danger, td button.danger:focus-visible { border-color: var(--line); color: var(--bad); }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--on-accent); }
button.link {
  padding: 0; border: 0; background: none; color: inherit; font-weight: 500; text-align: left;
}
button.link:hover { color: var(--accent); text-decoration: underline; }
button.chip {
  padding: 0 6px; border: 0; border-radius: 5px; background: var(--accent-soft);
  color: var(--accent); font: 11.5px/18px var(--mono);
}
button.chip + button.chip, button.chip + .more { margin-left: 4px; }
.more { color: var(--muted); font-size: 11.5px; }
.bar { display: inline-block; width: 46px; height: 5px; margin-left: 8px; vertical-align: middle; border-radius: 3px; background: var(--line-2); overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--accent); }

#rooms-body tr { cursor: pointer; }
#rooms-body tr.selected td { background: var(--accent-soft); }
#rooms-body tr.selected td:first-child { box-shadow: inset 3px 0 var(--accent); }

.room-title { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font: 600 13px var(--mono); }
.spacer { flex: 1; }
.close { padding: 0 8px; font-size: 15px; line-height: 22px; }
.room-body { flex: 1; min-height: 0; display: flex; flex-direction: column; gap: 12px; padding: 12px; overflow: auto; }
.facts {
  display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 1px; margin: 0;
  background: var(--line); border: 1px solid var(--line); border-radius: 8px; overflow: hidden;
}
.facts div { min-width: 0; padding: 5px 10px; background: var(--panel); }
.facts dd { margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; font-variant-numeric: tabular-nums; }
h3 { margin-bottom: 6px; }
.split { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.3fr); gap: 14px; }
.bars li { display: grid; grid-template-columns: minmax(0, 1fr) 60px 24px; align-items: center; gap: 8px; font-size: 12px; }
.bars .bar { width: 100%; margin: 0; }
.chips { display: flex; flex-wrap: wrap; gap: 5px; max-height: 58px; overflow: auto; }
.chips li {
  display: inline-flex; align-items: center; gap: 5px; padding: 0 8px; line-height: 20px;
  border: 1px solid var(--line); border-radius: 999px; font-size: 12px;
}
.chips .muted { font-size: 11px; }
.status { flex: none; width: 7px; height: 7px; border-radius: 50%; background: var(--faint); }
.status.online { background: var(--ok); }
.status.away { background: var(--warn); }
.status.busy { background: var(--bad); }
.status.invisible { background: none; border: 1.5px solid var(--faint); }
td .status { display: inline-block; margin-right: 6px; }
.publish { display: grid; grid-template-columns: 130px minmax(0, 1fr) auto; gap: 6px; }
.publish input {
  min-width: 0; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--panel-2); font: 12px var(--mono);
}
.result { grid-column: 1 / -1; margin: 0; min-height: 17px; font-size: 12px; overflow-wrap: anywhere; }
.result:empty { display: none; }
.result.ok { color: var(--ok); }
.result.error { color: var(--bad); }
.tail {
  flex: 1 0 150px; min-height: 150px; display: flex; flex-direction: column;
  border: 1px solid var(--line); border-radius: 8px; overflow: hidden;
}
.tail > header {
  display: flex; align-items: center; gap: 8px; padding: 5px 8px 5px 10px;
  background: var(--panel-2); border-bottom: 1px solid var(--line);
}
.tail h3 { margin: 0; }
.tail ol { flex: 1; min-height: 0; padding: 4px 0; overflow: auto; font: 12px/1.55 var(--mono); }
.tail li { display: grid; grid-template-columns: auto auto auto minmax(0, 1fr); gap: 8px; padding: 1px 10px; }
.tail li:hover { background: var(--panel-2); }
.tail time { color: var(--faint); }
.tail .offset { min-width: 4ch; text-align: right; color: var(--muted); }
.tail .event { color: var(--accent); font-weight: 600; }
.tail code {
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3; overflow: hidden;
  font: inherit; white-space: pre-wrap; overflow-wrap: break-word;
}
.tail li.notice { grid-template-columns: auto minmax(0, 1fr); }
.tail li.notice { color: var(--warn); font-style: italic; }
.tail ol:empty { display: none; }
.tail .empty { padding: 14px; font-family: var(--sans); }

.toasts { position: fixed; right: 16px; bottom: 16px; z-index: 10; display: flex; flex-direction: column; gap: 8px; max-width: 440px; }
.toast {
  padding: 8px 12px; border: 1px solid var(--line); border-left: 3px solid var(--ok); border-radius: 8px;
  background: var(--panel); box-shadow: 0 8px 28px rgb(0 0 0 / 14%); font-size: 12.5px; overflow-wrap: anywhere;
}
.toast.error { border-left-color: var(--bad); }

@media (max-width: 1150px) {
  html, body { height: auto; }
  body { display: block; }
  .top { flex-wrap: wrap; }
  .totals { order: 3; flex-basis: 100%; overflow-x: auto; }
  main { display: flex; flex-direction: column; }
  .scroll { max-height: 60vh; }
  #rooms-panel { max-height: none; }
  #room-panel { min-height: 620px; }
}
`;
