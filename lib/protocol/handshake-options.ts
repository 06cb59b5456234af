/**
 * What a client asked of the protocol with query parameters of its handshake URL.
 * Each is opt-in and takes one exact value; any other value is ignored, so other
 * clients see no change. docs/protocol.md ("Connecting", "Liveness") is the contract.
 *
 * @example
 * ```ts
 * // new WebSocket('wss://example.com/ws?rt-batch=1&rt-ping=1&rt-refuse=close')
 * protocolOptionsOf(request); // { batch: true, ping: true, refuseWithClose: true }
 * ```
 */
export interface ProtocolOptions {
  /** `rt-batch=1`: the client handles `rt:batch` frames of any frames. */
  readonly batch: boolean;
  /**
   * `rt-ping=1`: the heartbeat sends `rt:ping` frames instead of WebSocket pings,
   * and any frame from the client answers them.
   */
  readonly ping: boolean;
  /**
   * `rt-refuse=close`: a refused handshake is completed and closed at once with a
   * close code, instead of being answered with an HTTP status.
   */
  readonly refuseWithClose: boolean;
}

const DEFAULTS: ProtocolOptions = Object.freeze({
  batch: false,
  ping: false,
  refuseWithClose: false,
});

/**
 * Reads the protocol's query parameters of a handshake request, once per handshake.
 * The parameters stay in the URL, so `authenticate` sees them too.
 *
 * @example
 * ```ts
 * const { refuseWithClose } = protocolOptionsOf(request);
 * ```
 */
export function protocolOptionsOf(request: { readonly url?: string }): ProtocolOptions {
  const url = request.url ?? '';
  const start = url.indexOf('?');
  if (start === -1) return DEFAULTS;
  const query = new URLSearchParams(url.slice(start + 1));
  return {
    batch: query.get('rt-batch') === '1',
    ping: query.get('rt-ping') === '1',
    refuseWithClose: query.get('rt-refuse') === 'close',
  };
}
