import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { assertCanSignal } from '../../core/authorize.js';
import { BuiltinEventRegistry } from '../../core/events/builtin-event-registry.js';
import { FrameDispatcher } from '../../core/events/frame-dispatcher.js';
import { ConnectionLifecycle } from '../../core/lifecycle/connection-lifecycle.js';
import { peerChannel } from '../../core/channels.js';
import { assertMember, roomOf } from '../../core/events/event-data.js';
import { encodeFrame, ErrorCode, RealtimeError, BuiltinEvent } from '../../protocol/index.js';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import { PresenceService } from '../../core/presence/presence.service.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { SERVER_PEER, signalFrame, signalOf } from './signal.js';
import { ServerPeers } from './server-peers.js';
import { turnCredentials } from './turn-credentials.js';
import type { IceServer, ResolvedWebRtcOptions } from './webrtc.options.js';

/**
 * WebRTC signaling over the WebSocket transport, and the server's own peers.
 *
 * - `rt:ice` hands a client the ICE servers: `webrtc.iceServers`, and TURN credentials
 *   minted for its user when `webrtc.turn` is set.
 * - `rt:peer-join` makes a member of a room a peer of the room's call: the other
 *   peers hear `rt:peer-joined` (and make it an offer), and `rt:peer-left` when it
 *   leaves the call or the room, or disconnects.
 * - `rt:signal` passes an offer, answer or ICE candidate to one member of the same
 *   room, on any node, or to the server's peer (`to: "server"`).
 *
 * docs/webrtc.md tells how to make a call; docs/protocol.md has the frames.
 *
 * @example
 * ```ts
 * constructor(private readonly webrtc: WebRtcSignalingService) {}
 * const iceServers = this.webrtc.iceServers(client); // what rt:ice answers
 * ```
 */
@Injectable()
export class WebRtcSignalingService implements OnModuleInit, OnApplicationShutdown {
  private readonly options: ResolvedWebRtcOptions | undefined;
  /**
   * The calls this node's connections are peers of, each with the user the other
   * peers know it as (null: anonymous, or invisible when it joined the call).
   */
  private readonly peerRooms = new Map<RealtimeConnection, Map<string, Promise<string | null>>>();
  private readonly logger = new Logger('RealtimeWebRtc');
  private servers: ServerPeers | undefined;

  constructor(
    private readonly hub: RealtimeHub,
    private readonly dispatcher: FrameDispatcher,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly presence: PresenceService,
    registry: BuiltinEventRegistry,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {
    this.options = realtime.webrtc;
    if (!this.options) return;
    // Signaling runs over the WebSocket only: a data channel is made by it.
    const websocket = { transports: ['websocket'] };
    registry.register(
      BuiltinEvent.Ice,
      async (connection) => ({ iceServers: this.iceServers(connection) }),
      websocket,
    );
    registry.register(BuiltinEvent.PeerJoin, (c, data) => this.joinCall(c, data), websocket);
    registry.register(
      BuiltinEvent.PeerLeave,
      async (c, data) => this.leaveCall(c, data),
      websocket,
    );
    registry.register(BuiltinEvent.Signal, (c, data) => this.signal(c, data), websocket);
  }

  async onModuleInit(): Promise<void> {
    if (!this.options) return;
    this.hub.addListener({
      roomLeft: (connection, room) => this.leftRoom(connection, room),
      connectionRemoved: (connection) => this.gone(connection),
    });
    const { hub, dispatcher, lifecycle, realtime } = this;
    this.servers = await ServerPeers.load(this.options, {
      hub,
      dispatcher,
      lifecycle,
      rateLimit: realtime.rateLimit,
      maxBufferedBytes: realtime.websocket ? realtime.websocket.maxBufferedBytes : 1 << 20,
    });
    const servers = this.servers;
    if (!servers) return;
    const { metrics } = hub;
    metrics.gauge('realtime_webrtc_server_peers', 'Server peers open on this node.', [], (add) =>
      add([], servers.count),
    );
    metrics.gauge(
      'realtime_webrtc_data_channels',
      'Data channels of server peers open on this node (each is also a connection, transport webrtc).',
      [],
      (add) => {
        let channels = 0;
        for (const connection of hub.connections.list()) {
          if (connection.transport === 'webrtc') channels++;
        }
        add([], channels);
      },
    );
    metrics.gauge(
      'realtime_webrtc_tracks',
      'Media tracks on this node’s server peers, by direction: received from clients, or forwarded (one per subscriber).',
      ['direction'],
      (add) => {
        const { received, forwarded } = servers.trackCounts();
        add(['received'], received);
        add(['forwarded'], forwarded);
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.servers?.closeAll();
  }

  /** Whether WebRTC is on (the `webrtc` option is set). */
  get enabled(): boolean {
    return this.options !== undefined;
  }

  /** How many server peers are open on this node. */
  get serverPeerCount(): number {
    return this.servers?.count ?? 0;
  }

  /**
   * The ICE servers for a connection: `webrtc.iceServers`, then a TURN server with
   * credentials for its user (or, for an anonymous connection, its id) when
   * `webrtc.turn` is set.
   */
  iceServers(connection: RealtimeConnection): IceServer[] {
    if (!this.options) return [];
    const servers = [...this.options.iceServers];
    const { turn } = this.options;
    if (turn) servers.push(turnCredentials(turn, connection.userId ?? connection.id));
    return servers;
  }

  private async joinCall(connection: RealtimeConnection, data: unknown): Promise<unknown> {
    const room = roomOf(this.hub, data);
    assertMember(connection, room);
    let rooms = this.peerRooms.get(connection);
    if (rooms?.has(room)) return { room };
    if (!rooms) this.peerRooms.set(connection, (rooms = new Map()));
    const named = this.publicUser(connection);
    rooms.set(room, named);
    await this.hub.subscribeChannel(peerChannel(room), connection);
    const peer = { id: connection.id, userId: await named };
    const frame = encodeFrame({ event: BuiltinEvent.PeerJoined, data: { room, peer } });
    await this.hub.publish([peerChannel(room)], frame, [connection.id]);
    return { room };
  }

  /** Leaves the room's call, and closes the connection's server peer in the room. */
  private leaveCall(connection: RealtimeConnection, data: unknown): boolean {
    const room = roomOf(this.hub, data);
    const closed = this.servers?.close(connection.id, room) ?? false;
    if (!this.peerRooms.get(connection)?.has(room)) return closed;
    this.dropPeer(connection, room);
    return true;
  }

  private async signal(connection: RealtimeConnection, data: unknown): Promise<null> {
    const room = roomOf(this.hub, data);
    assertMember(connection, room);
    const signal = signalOf(data, room, this.options!.maxSdpBytes);
    if (signal.to === SERVER_PEER) {
      if (!this.servers) {
        throw new RealtimeError(ErrorCode.PeerNotFound, 'this server has no WebRTC peers');
      }
      await this.servers.signal(connection, signal);
      return null;
    }
    if (signal.to === connection.id) {
      throw new RealtimeError(ErrorCode.InvalidData, 'a peer cannot signal itself');
    }
    const userId = await this.memberOf(room, signal.to);
    await assertCanSignal(
      this.realtime.authorize,
      connection.principal,
      { connectionId: signal.to, ...(userId !== undefined && { userId }) },
      room,
    );
    const named = this.peerRooms.get(connection)?.get(room) ?? this.publicUser(connection);
    this.hub.sendTo(signal.to, signalFrame(signal, connection.id, await named));
    return null;
  }

  /** The user other peers may know a connection as: none when anonymous or invisible. */
  private async publicUser({ userId }: RealtimeConnection): Promise<string | null> {
    if (userId === undefined) return null;
    return (await this.presence.hiddenUsers([userId])).has(userId) ? null : userId;
  }

  /**
   * The user of a member of `room` (undefined for an anonymous one), on any node.
   *
   * @throws RealtimeError PEER_NOT_FOUND when `connectionId` is no member of it.
   */
  private async memberOf(room: string, connectionId: string): Promise<string | undefined> {
    const here = this.hub.connections.get(connectionId);
    if (here?.rooms.has(room)) return here.userId;
    if (!here && this.hub.remoteNode(connectionId)) {
      const members = await this.hub.roomMembers(room);
      const member = members.find((m) => m.connectionId === connectionId);
      if (member) return member.userId;
    }
    throw new RealtimeError(ErrorCode.PeerNotFound, `no peer "${connectionId}" in "${room}"`);
  }

  private leftRoom(connection: RealtimeConnection, room: string): void {
    if (this.peerRooms.get(connection)?.has(room)) this.dropPeer(connection, room);
    this.servers?.close(connection.id, room);
  }

  private gone(connection: RealtimeConnection): void {
    for (const room of this.peerRooms.get(connection)?.keys() ?? [])
      this.dropPeer(connection, room);
    this.servers?.close(connection.id);
  }

  /** The connection leaves the room's call: the other peers hear `rt:peer-left`. */
  private dropPeer(connection: RealtimeConnection, room: string): void {
    const rooms = this.peerRooms.get(connection)!;
    const named = rooms.get(room)!;
    rooms.delete(room);
    if (rooms.size === 0) this.peerRooms.delete(connection);
    void this.hub.unsubscribeChannel(peerChannel(room), connection);
    const left = async () => {
      const peer = { id: connection.id, userId: await named };
      const frame = encodeFrame({ event: BuiltinEvent.PeerLeft, data: { room, peer } });
      await this.hub.publish([peerChannel(room)], frame, [connection.id]);
    };
    left().catch((error: unknown) => {
      this.logger.warn(`could not announce that ${connection.id} left "${room}": ${String(error)}`);
    });
  }
}
