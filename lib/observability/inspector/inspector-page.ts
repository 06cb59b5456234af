/**
 * The inspector's page: one HTML document with its styles and script, served from
 * `base` (the page's own path; its API is under `<base>/api`).
 *
 * @example
 * ```ts
 * response.end(inspectorPage('/realtime/inspector'));
 * ```
 */
export function inspectorPage(base: string): string {
  const api = JSON.stringify(`${base}/api`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nest-realtime inspector</title></head>
<body><h1>nest-realtime inspector</h1><pre id="snapshot"></pre>
<script>
const api = ${api};
async function refresh() {
  const response = await fetch(api + '/snapshot');
  document.getElementById('snapshot').textContent = JSON.stringify(await response.json(), null, 2);
}
refresh();
setInterval(refresh, 2000);
</script></body></html>`;
}
