// The WebRTC types a call names, without requiring the DOM lib: the client's
// declarations must compile in a Node app (`lib: ["es2022"]`, no DOM) as well as in a
// page. Where the DOM lib is loaded these ARE the DOM's types, found through
// `globalThis` rather than named (naming RTCPeerConnection would need the DOM lib);
// elsewhere they are the small structural types below, which werift's classes meet.

/**
 * A peer connection as a Node app without the DOM lib sees it (werift's
 * `RTCPeerConnection` is one): what the DOM's has, loosely typed.
 *
 * @example
 * ```ts
 * import { RTCPeerConnection } from 'werift';
 * const pc: PeerConnectionLike = new RTCPeerConnection();
 * ```
 */
export interface PeerConnectionLike {
  close(): void;
  [member: string]: any;
}

/**
 * One ICE server, as browsers and werift take it (the DOM's `RTCIceServer`).
 *
 * @example
 * ```ts
 * const stun: CallIceServer = { urls: 'stun:stun.example.com:3478' };
 * ```
 */
export interface CallIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/**
 * The peer connection of a call: the DOM's `RTCPeerConnection` where the DOM lib is
 * loaded, else {@link PeerConnectionLike}.
 *
 * @example
 * ```ts
 * const pc: CallPeerConnection = await call.connectServer();
 * pc.addTrack(track, stream);
 * ```
 */
export type CallPeerConnection = typeof globalThis extends {
  RTCPeerConnection: { prototype: infer Connection };
}
  ? Connection
  : PeerConnectionLike;

/**
 * What a peer connection is made with: the DOM's `RTCConfiguration` where the DOM lib is
 * loaded, else ICE servers and any other option.
 *
 * @example
 * ```ts
 * const config: CallConfiguration = { iceTransportPolicy: 'relay' };
 * ```
 */
export type CallConfiguration = typeof globalThis extends {
  RTCPeerConnection: new (configuration?: infer Configuration) => unknown;
}
  ? Configuration
  : { iceServers?: CallIceServer[]; [option: string]: unknown };

/**
 * A constructor of peer connections: the browser's `RTCPeerConnection`, or werift's.
 *
 * @example
 * ```ts
 * import { RTCPeerConnection } from 'werift';
 * const call = new RoomCall(client, 'call:42', { RTCPeerConnection });
 * ```
 */
export type CallPeerConnectionConstructor = new (
  configuration?: CallConfiguration,
) => CallPeerConnection;
