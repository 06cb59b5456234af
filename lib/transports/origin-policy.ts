import type { IncomingMessage } from 'node:http';

/**
 * Which web pages may open a WebSocket or an SSE stream (their `Origin` header):
 *
 * - `'same-origin'` (the default): a page of the server's own host only;
 * - `'*'`: any page (for token auth where no cookie rides along);
 * - a list of origins, exact (`'https://app.example.com'`) or with one leading
 *   wildcard label (`'https://*.example.com'`);
 * - a function of the origin and the request.
 *
 * A request without `Origin` (a server, a native app, curl) is not a page: it is
 * let through, and `authenticate` decides. Browsers always send it on a WebSocket
 * handshake and a cross-site EventSource, which is what stops cross-site WebSocket
 * hijacking with cookies.
 *
 * @example
 * ```ts
 * origins: ['https://app.example.com', 'https://*.example.com']
 * ```
 */
export type OriginPolicy =
  'same-origin' | '*' | readonly string[] | ((origin: string, request: IncomingMessage) => boolean);

/**
 * Whether the request's page may connect, by `policy`.
 *
 * @example
 * ```ts
 * if (!originAllowed(request, options.origins)) return reject(403);
 * ```
 */
export function originAllowed(request: IncomingMessage, policy: OriginPolicy): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (policy === '*') return true;
  if (typeof policy === 'function') return policy(origin, request) === true;
  if (policy === 'same-origin') return sameHost(origin, request.headers.host);
  return policy.some((allowed) => matches(origin, allowed));
}

/** The origin names the host (and port) the request came to. */
function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // "null" (a sandboxed page, a file) and garbage
  }
}

function matches(origin: string, allowed: string): boolean {
  if (origin === allowed) return true;
  const star = allowed.indexOf('://*.');
  if (star === -1) return false;
  const scheme = allowed.slice(0, star + 3);
  const suffix = allowed.slice(star + 4); // ".example.com" (with the port, if any)
  if (!origin.startsWith(scheme) || !origin.endsWith(suffix)) return false;
  const label = origin.slice(scheme.length, origin.length - suffix.length);
  return /^[a-z0-9-]+$/i.test(label); // one label: no dots, no userinfo, no port
}
