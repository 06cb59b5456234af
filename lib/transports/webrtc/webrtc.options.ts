import {
  bytes,
  count,
  positiveInteger,
  RealtimeConfigError,
  resolveGroup,
  type Check,
  type Rule,
} from '../../options-check.js';

/**
 * One ICE server as browsers and werift take it.
 *
 * @example
 * ```ts
 * const stun: IceServer = { urls: 'stun:stun.example.com:3478' };
 * ```
 */
export interface IceServer {
  readonly urls: string | readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

/**
 * TURN with time-limited credentials (the "TURN REST API" scheme that coturn's
 * `use-auth-secret` accepts): the username is `<expiry>:<userId>`, the password the
 * base64 HMAC-SHA1 of the username under the secret shared with the TURN server.
 *
 * @example
 * ```ts
 * turn: { urls: ['turn:turn.example.com:3478'], secret: process.env.TURN_SECRET!, ttl: 3600 }
 * ```
 */
export interface TurnOptions {
  readonly urls: readonly string[];
  readonly secret: string;
  /** How long minted credentials are valid, in seconds. Default 3600. */
  readonly ttl?: number;
}

/**
 * The video codecs a server peer negotiates.
 *
 * @example
 * ```ts
 * webrtc: { videoCodecs: ['VP8', 'H264'] satisfies VideoCodec[] }
 * ```
 */
export type VideoCodec = 'VP8' | 'H264';
/**
 * The audio codecs a server peer negotiates.
 *
 * @example
 * ```ts
 * webrtc: { audioCodecs: ['opus'] satisfies AudioCodec[] }
 * ```
 */
export type AudioCodec = 'opus';

/**
 * WebRTC: signaling over the WebSocket transport (`rt:signal`, `rt:peer-join`,
 * `rt:ice`), ICE servers and TURN credentials for clients, and server-side peers
 * (werift, an optional dependency) for data channels and media forwarding. Off unless
 * set. Nothing here contacts a public server unless you list one.
 *
 * @example
 * ```ts
 * webrtc: {
 *   iceServers: [{ urls: 'stun:stun.example.com:3478' }],
 *   turn: { urls: ['turn:turn.example.com:3478'], secret: process.env.TURN_SECRET! },
 *   maxPeersPerUser: 2,
 * }
 * ```
 */
export interface WebRtcOptions {
  /** ICE servers handed to clients (`rt:ice`) and used by server peers. Default none. */
  iceServers?: readonly IceServer[];
  /** TURN credentials minted per user for `rt:ice`. Default none. */
  turn?: TurnOptions;
  /** Server peers (werift) one user may have open on this node. Default 4. */
  maxPeersPerUser?: number;
  /** Server peers of one room on this node. Default 50. */
  maxPeersPerRoom?: number;
  /** Server peers of this node. Default 500. */
  maxPeersPerNode?: number;
  /** Data channels one server peer takes (each is a connection); more are closed. Default 32. */
  maxChannelsPerPeer?: number;
  /**
   * Media sections (tracks it sends) a client's offer may add to its server peer,
   * besides one data section and the sections of the tracks the server forwards to it;
   * an offer with more is refused with TRACK_LIMIT_REACHED. 0: data channels only. Default 4.
   */
  maxTracksPerPeer?: number;
  /**
   * Offers one connection may make to the server's peers a second, saving up
   * `offerBurst`; one more is refused with RATE_LIMITED. Default 2.
   */
  offersPerSecond?: number;
  /** Offers a connection may make at once to the server's peers. Default 5. */
  offerBurst?: number;
  /** A server peer not connected this long after its offer is closed, in ms. Default 15000. */
  connectTimeout?: number;
  /**
   * How long a closing server peer waits for the client to confirm that its data
   * channels closed (each channel's stream reset) before it ends the association
   * anyway, in ms. Default 1000.
   */
  closeTimeout?: number;
  /** Codecs server peers accept and forward. Default VP8 and Opus. */
  videoCodecs?: readonly VideoCodec[];
  audioCodecs?: readonly AudioCodec[];
  /**
   * Addresses server peers offer as host candidates besides their interfaces'
   * (werift skips loopback: tests on one machine pass `['127.0.0.1']`). Default none.
   */
  hostAddresses?: readonly string[];
  /** The UDP ports server peers may use, `[min, max]`. Default: any. */
  portRange?: readonly [number, number];
  /** Largest SDP accepted in `rt:signal`, in bytes. Default 65536. */
  maxSdpBytes?: number;
}

/**
 * The WebRTC options after defaults and checks.
 *
 * @example
 * ```ts
 * const options: ResolvedWebRtcOptions | undefined = resolveWebRtcOptions({ maxPeersPerUser: 2 });
 * ```
 */
export type ResolvedWebRtcOptions = Readonly<
  Required<Omit<WebRtcOptions, 'turn' | 'portRange'>> & Pick<WebRtcOptions, 'turn' | 'portRange'>
>;

const strings: Check = (v) =>
  Array.isArray(v) && v.every((item) => typeof item === 'string' && item.length > 0);
const iceServer: Check = (v) => {
  const server = v as Record<string, unknown> | null;
  if (typeof server !== 'object' || server === null) return false;
  const urls = typeof server.urls === 'string' ? [server.urls] : server.urls;
  return (
    strings(urls) &&
    (urls as unknown[]).length > 0 &&
    ['username', 'credential'].every(
      (key) => server[key] === undefined || typeof server[key] === 'string',
    )
  );
};
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    Array.isArray(v) && v.every((item) => allowed.includes(item as string));

const CHECKS: Record<keyof WebRtcOptions, Rule> = {
  iceServers: [
    (v) => Array.isArray(v) && v.every(iceServer),
    'a list of { urls, username?, credential? }',
  ],
  turn: [
    (v) => {
      const turn = v as Record<string, unknown> | null;
      return (
        typeof turn === 'object' &&
        turn !== null &&
        strings(turn.urls) &&
        (turn.urls as unknown[]).length > 0 &&
        typeof turn.secret === 'string' &&
        turn.secret.length > 0 &&
        (turn.ttl === undefined || positiveInteger[0](turn.ttl)) &&
        Object.keys(turn).every((key) => ['urls', 'secret', 'ttl'].includes(key))
      );
    },
    '{ urls: string[], secret: non-empty string, ttl?: positive integer (s) }',
  ],
  maxPeersPerUser: positiveInteger,
  maxPeersPerRoom: positiveInteger,
  maxPeersPerNode: positiveInteger,
  maxChannelsPerPeer: positiveInteger,
  maxTracksPerPeer: count,
  offersPerSecond: positiveInteger,
  offerBurst: positiveInteger,
  connectTimeout: [positiveInteger[0], 'a positive integer (ms)'],
  closeTimeout: [positiveInteger[0], 'a positive integer (ms)'],
  videoCodecs: [oneOf('VP8', 'H264'), "a list of 'VP8', 'H264'"],
  audioCodecs: [oneOf('opus'), "a list of 'opus'"],
  hostAddresses: [strings, 'a list of IP addresses'],
  portRange: [
    (v) =>
      Array.isArray(v) &&
      v.length === 2 &&
      v.every((port) => Number.isSafeInteger(port) && port > 0 && port < 65_536) &&
      v[0] <= v[1],
    'a [min, max] pair of UDP ports',
  ],
  maxSdpBytes: bytes,
};

const DEFAULTS: Omit<ResolvedWebRtcOptions, 'turn' | 'portRange'> = {
  iceServers: [],
  maxPeersPerUser: 4,
  maxPeersPerRoom: 50,
  maxPeersPerNode: 500,
  maxChannelsPerPeer: 32,
  maxTracksPerPeer: 4,
  offersPerSecond: 2,
  offerBurst: 5,
  connectTimeout: 15_000,
  closeTimeout: 1_000,
  videoCodecs: ['VP8'],
  audioCodecs: ['opus'],
  hostAddresses: [],
  maxSdpBytes: 65_536,
};

/**
 * The `webrtc` options with defaults, checked; undefined when WebRTC is off.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveWebRtcOptions({ maxPeersPerUser: 2 })!.connectTimeout; // 15000
 * ```
 */
export function resolveWebRtcOptions(given: unknown): ResolvedWebRtcOptions | undefined {
  if (given === undefined || given === false) return undefined;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new RealtimeConfigError('webrtc', 'an object, or false', given);
  }
  // turn and portRange have no default: absent, they stay absent.
  const defaults = DEFAULTS as Required<WebRtcOptions>;
  return resolveGroup<WebRtcOptions>('webrtc', given, CHECKS, defaults);
}
