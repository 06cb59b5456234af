import { Logger } from '@nestjs/common';
import type * as Werift from 'werift';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';
import { DataChannelConnection, type DataChannelShared } from './data-channel-connection.js';
import { OfferLimits } from './offer-limits.js';
import { RoomMedia } from './room-media.js';
import { ServerPeer, type PeerHost } from './server-peer.js';
import type { Signal } from './signal.js';
import type { ResolvedWebRtcOptions } from './webrtc.options.js';

const logger = new Logger('RealtimeWebRtc');

/**
 * The server's peers on this node (werift, loaded when WebRTC is on): at most one per
 * client connection and room, created by the client's first offer to `"server"`,
 * within `webrtc.maxPeersPerUser`, `maxPeersPerRoom` and `maxPeersPerNode`. Each
 * peer's data channels are connections of the core; its tracks are forwarded to the
 * room's other server peers (RoomMedia).
 *
 * @example
 * ```ts
 * const peers = await ServerPeers.load(options, channels);
 * await peers?.signal(client, { room: 'call:1', to: 'server', description: offer });
 * ```
 */
export class ServerPeers {
  private readonly peers = new Map<string, ServerPeer>();
  private readonly rooms = new Map<string, RoomMedia>();
  private readonly offers: OfferLimits;
  /** Peers gone from `peers` whose connections are still closing (shutdown waits for them). */
  private readonly closing = new Set<Promise<void>>();
  private readonly host: PeerHost;

  private constructor(
    private readonly werift: typeof Werift,
    private readonly options: ResolvedWebRtcOptions,
    private readonly channels: DataChannelShared,
  ) {
    containControlMessageErrors(werift);
    this.offers = new OfferLimits(options);
    this.host = {
      connectTimeout: options.connectTimeout,
      closeTimeout: options.closeTimeout,
      createConnection: () => this.createConnection(),
      openChannel: (peer, channel) => this.openChannel(peer, channel),
      publish: (peer, track, receiver) => this.rooms.get(peer.room)?.publish(peer, track, receiver),
      closed: (peer, closing) => this.forget(peer, closing),
    };
  }

  /** The server peers, or undefined (with a warning) when werift is not installed. */
  static async load(
    options: ResolvedWebRtcOptions,
    channels: DataChannelShared,
  ): Promise<ServerPeers | undefined> {
    try {
      return new ServerPeers(await import('werift'), options, channels);
    } catch {
      logger.warn('werift is not installed: server peers are off (npm install werift@~0.24.4)');
      return undefined;
    }
  }

  /** How many server peers are open. */
  get count(): number {
    return this.peers.size;
  }

  /** Tracks received from clients, and the copies forwarded to the rooms' other peers. */
  trackCounts(): { received: number; forwarded: number } {
    let received = 0;
    let forwarded = 0;
    for (const media of this.rooms.values()) {
      received += media.received;
      forwarded += media.forwarded;
    }
    return { received, forwarded };
  }

  /**
   * A client's signal to the server: its first offer in a room creates the peer.
   *
   * An offer is counted before anything else happens to it (OfferLimits).
   *
   * @throws RealtimeError PEER_NOT_FOUND (a candidate or answer before any offer),
   *   PEER_LIMIT_REACHED, RATE_LIMITED and TRACK_LIMIT_REACHED (an offer past
   *   `webrtc.offersPerSecond` or `maxTracksPerPeer`), INVALID_DATA (a description or
   *   candidate werift refused).
   */
  async signal(owner: RealtimeConnection, signal: Signal): Promise<void> {
    const key = keyOf(owner.id, signal.room);
    let peer = this.peers.get(key);
    const { description } = signal;
    if (description?.type === 'offer') {
      this.offers.admit(owner.id, description.sdp, peer?.serverSections ?? 0);
    }
    if (!peer) {
      if (description?.type !== 'offer') {
        throw new RealtimeError(ErrorCode.PeerNotFound, 'offer to the server first');
      }
      this.assertRoomFor(owner, signal.room);
      peer = new ServerPeer(owner, signal.room, this.host);
      this.peers.set(key, peer);
      let media = this.rooms.get(signal.room);
      if (!media) this.rooms.set(signal.room, (media = new RoomMedia(this.tracks())));
      media.join(peer);
      try {
        await peer.signal(signal);
      } catch (error) {
        peer.close('its first offer was refused');
        throw error;
      }
      return;
    }
    await peer.signal(signal);
  }

  /** Closes the server peers of a connection: in one room, or in all. True if one was open. */
  close(ownerId: string, room?: string): boolean {
    if (room !== undefined) {
      const peer = this.peers.get(keyOf(ownerId, room));
      peer?.close('its client left the room, or the call');
      return peer !== undefined;
    }
    this.offers.forget(ownerId);
    let closed = false;
    for (const peer of this.peers.values()) {
      if (peer.owner.id !== ownerId) continue;
      peer.close('its client disconnected');
      closed = true;
    }
    return closed;
  }

  /** Closes every server peer (shutdown); resolves once every connection is closed. */
  async closeAll(): Promise<void> {
    // Each close deletes its own entry: a Map's iteration goes on past that.
    for (const peer of this.peers.values()) peer.close('the server is shutting down');
    await Promise.all(this.closing);
  }

  private assertRoomFor(owner: RealtimeConnection, room: string): void {
    const { maxPeersPerNode, maxPeersPerRoom, maxPeersPerUser } = this.options;
    let inRoom = 0;
    let ofUser = 0;
    for (const peer of this.peers.values()) {
      if (peer.room === room) inRoom++;
      // An anonymous connection is a user of its own.
      if ((peer.owner.userId ?? peer.owner.id) === (owner.userId ?? owner.id)) ofUser++;
    }
    const refusal =
      this.peers.size >= maxPeersPerNode
        ? `this node has ${maxPeersPerNode} server peers`
        : inRoom >= maxPeersPerRoom
          ? `"${room}" has ${maxPeersPerRoom} server peers`
          : ofUser >= maxPeersPerUser
            ? `the user has ${maxPeersPerUser} server peers`
            : undefined;
    if (refusal) throw new RealtimeError(ErrorCode.PeerLimitReached, refusal);
  }

  private createConnection(): Werift.RTCPeerConnection {
    return new this.werift.RTCPeerConnection(peerConfiguration(this.werift, this.options));
  }

  private tracks() {
    const { werift } = this;
    return {
      track: (kind: 'audio' | 'video') => new werift.MediaStreamTrack({ kind }),
      stream: (id: string) => new werift.MediaStream({ id }),
    };
  }

  private openChannel(peer: ServerPeer, channel: Werift.RTCDataChannel): void {
    const { hub } = this.channels;
    const connection = new DataChannelConnection(
      hub.nextConnectionId(),
      peer.owner.principal,
      channel,
      this.channels,
    );
    if (!peer.adopt(connection, this.options.maxChannelsPerPeer)) return;
    const start = () => {
      if (!connection.isOpen) return;
      void this.channels.lifecycle.attach(connection).then((attached) => {
        if (attached) connection.start();
      });
    };
    if (channel.readyState === 'open') start();
    else channel.stateChanged.subscribe((state) => state === 'open' && start());
  }

  private forget(peer: ServerPeer, closing: Promise<void>): void {
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
    const key = keyOf(peer.owner.id, peer.room);
    if (this.peers.get(key) === peer) this.peers.delete(key);
    const media = this.rooms.get(peer.room);
    media?.leave(peer);
    if (media?.empty) this.rooms.delete(peer.room);
  }
}

function keyOf(connectionId: string, room: string): string {
  return `${connectionId}\n${room}`;
}

/**
 * A server peer's configuration: only the ICE servers the options list (werift's own
 * default would ask a public STUN server), the host addresses and ports they allow,
 * and the codecs they accept.
 *
 * @example
 * ```ts
 * new werift.RTCPeerConnection(peerConfiguration(werift, options));
 * ```
 */
export function peerConfiguration(
  werift: Pick<typeof Werift, 'useVP8' | 'useH264' | 'useOPUS'>,
  options: ResolvedWebRtcOptions,
): Partial<Werift.PeerConfig> {
  return {
    iceServers: options.iceServers.map((server) => ({
      ...server,
      urls: typeof server.urls === 'string' ? server.urls : [...server.urls],
    })) as Werift.RTCIceServer[],
    iceAdditionalHostAddresses: [...options.hostAddresses],
    ...(options.portRange && { icePortRange: [...options.portRange] as [number, number] }),
    codecs: {
      video: options.videoCodecs.map((codec) =>
        codec === 'VP8' ? werift.useVP8() : werift.useH264(),
      ),
      audio: options.audioCodecs.map(() => werift.useOPUS()),
    },
  };
}

const CONTAINED = Symbol('nest-realtime:contained');

/**
 * werift hands each SCTP message of a peer to an async handler whose rejection nobody
 * catches: a remote peer that sends a data channel control message for no channel
 * (an ACK of a channel never opened) makes it reject unhandled, which ends a Node
 * process. Every association of this werift gets a handler that catches and logs
 * instead (once per werift module; the handler is bound when the transport starts).
 */
function containControlMessageErrors(werift: typeof Werift): void {
  type Transport = { datachannelReceive: (...args: unknown[]) => Promise<void> };
  const prototype = werift.RTCSctpTransport.prototype as unknown as Record<
    string | symbol,
    unknown
  > & { setDtlsTransport(this: Transport, ...args: unknown[]): unknown };
  if (prototype[CONTAINED]) return;
  prototype[CONTAINED] = true;
  const start = prototype.setDtlsTransport;
  prototype.setDtlsTransport = function (this: Transport, ...args: unknown[]) {
    const receive = this.datachannelReceive;
    if (!(receive as unknown as Record<symbol, unknown>)[CONTAINED]) {
      const contained = (...message: unknown[]) =>
        receive(...message).catch((error: unknown) => {
          logger.warn(`a peer sent a data channel message werift refused: ${String(error)}`);
        });
      (contained as unknown as Record<symbol, unknown>)[CONTAINED] = true;
      this.datachannelReceive = contained;
    }
    return start.apply(this, args);
  };
}
