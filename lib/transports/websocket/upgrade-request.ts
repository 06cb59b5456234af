import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What a WebSocket connection keeps of its HTTP upgrade request, for as long as it
 * lives: the fields of `IncomingMessage` that apps read, the same values. The
 * request itself (parser state, stream buffers, raw headers) is let go once the
 * handshake is done; `authenticate` and `handleConnection` get it whole.
 *
 * @example
 * ```ts
 * const { headers, url, socket } = client.request;
 * console.log(headers['user-agent'], new URL(url, 'http://x').searchParams, socket.remoteAddress);
 * ```
 */
export interface UpgradeRequest {
  /** The request's target, path and query, as `IncomingMessage.url`. */
  readonly url: string;
  /**
   * The request's headers, names in lower case, as `IncomingMessage.headers`, but
   * for those of the handshake itself (`sec-websocket-*`, `upgrade`, `connection`),
   * which mean nothing once it is done.
   */
  readonly headers: IncomingHttpHeaders;
  /** The TCP (or TLS) socket, as `IncomingMessage.socket`: `remoteAddress`, `remotePort`, ... */
  readonly socket: Socket;
}

/** The handshake's own headers: not kept (see {@link UpgradeRequest.headers}). */
const HANDSHAKE_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/** The part of an upgrade request a connection keeps (see {@link UpgradeRequest}). */
export function upgradeRequestOf({ url, headers, socket }: IncomingMessage): UpgradeRequest {
  const kept: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (!HANDSHAKE_HEADERS.has(name)) kept[name] = headers[name];
  }
  return { url: url ?? '/', headers: kept, socket };
}
