import type {
  CallConfiguration,
  CallIceServer,
  CallPeerConnection,
  CallPeerConnectionConstructor,
} from './call-platform.js';
import { Listeners } from './listeners.js';

/** The server's own peer, as signals name it. */
const SERVER = 'server';

/**
 * A peer of a call, as the app sees it: who, and the connection to it.
 *
 * @example
 * ```ts
 * call.onPeer((peer: CallPeer) => attach(peer.userId, peer.stream));
 * ```
 */
export interface CallPeer {
  /** The peer's connection id, or `"server"` for the server's own peer. */
  readonly id: string;
  readonly userId: string | null;
  readonly pc: CallPeerConnection;
}

/**
 * What a call needs of the client: requests, and the server's frames.
 *
 * @example
 * ```ts
 * const signaling: CallSignaling = client; // a RealtimeClient is one
 * ```
 */
export interface CallSignaling {
  readonly state: string;
  request(event: string, data?: unknown): Promise<unknown>;
  emit(event: string, data?: unknown): void;
  on(event: string, listener: (data: any) => void): () => void;
  onState(listener: (state: string) => void): () => void;
}

/**
 * How a call connects. `RTCPeerConnection` defaults to the browser's; in Node, pass
 * werift's. `iceServers` defaults to what the server's `rt:ice` hands out (its STUN
 * and TURN, with credentials minted for this user).
 *
 * @example
 * ```ts
 * const call = new RoomCall(client, 'call:42', { config: { iceTransportPolicy: 'relay' } });
 * ```
 */
export interface CallOptions {
  readonly RTCPeerConnection?: CallPeerConnectionConstructor;
  readonly iceServers?: CallIceServer[];
  /** Anything else for each peer connection (`iceTransportPolicy`, ...). */
  readonly config?: CallConfiguration;
}

/** One peer connection and its perfect-negotiation state. */
interface Negotiation {
  readonly peer: CallPeer;
  readonly polite: boolean;
  makingOffer: boolean;
  ignoreOffer: boolean;
  /** Signals of this peer, applied one at a time. */
  queue: Promise<void>;
}

/**
 * A WebRTC call among the peers of one room, through the server's signaling: a mesh
 * of peer-to-peer connections (each member that joins the call gets one to every
 * other), and, on demand, a connection to the server's own peer (for media forwarded
 * by the server, and data channels into the room). Each connection negotiates by
 * itself with "perfect negotiation": the peer that was in the call first is impolite,
 * the newcomer polite; toward the server, the client is impolite. Add tracks and data
 * channels in `onPeer`; they are negotiated as they are added.
 *
 * @example
 * ```ts
 * const call = new RoomCall(client, 'call:42');
 * call.onPeer(({ pc }) => {
 *   for (const track of stream.getTracks()) pc.addTrack(track, stream);
 *   pc.ontrack = ({ streams }) => show(streams[0]);
 * });
 * await call.join(); // the room must be joined first (client.subscribe('call:42'))
 * const sfu = await call.connectServer(); // media through the server, instead of a mesh
 * ```
 */
export class RoomCall {
  private readonly peers = new Map<string, Negotiation>();
  private readonly peerListeners = new Listeners<[CallPeer]>();
  private readonly leftListeners = new Listeners<[CallPeer]>();
  private readonly errorListeners = new Listeners<[unknown]>();
  private readonly stops: (() => void)[] = [];
  private iceServers: CallIceServer[] | undefined;
  private joined = false;
  /** Counts leave()s: a join that sees it change was left meanwhile. */
  private generation = 0;
  private listening: Promise<void> | undefined;

  constructor(
    private readonly client: CallSignaling,
    readonly room: string,
    private readonly options: CallOptions = {},
  ) {}

  /** Every peer connection open now, by peer id. */
  get connections(): ReadonlyMap<string, CallPeer> {
    return new Map([...this.peers].map(([id, { peer }]) => [id, peer]));
  }

  /** Calls `listener` for each new peer connection, before it negotiates; returns the stop. */
  onPeer(listener: (peer: CallPeer) => void): () => void {
    return this.peerListeners.add(listener);
  }

  /** Calls `listener` when a peer leaves the call (its connection is closed already). */
  onPeerLeft(listener: (peer: CallPeer) => void): () => void {
    return this.leftListeners.add(listener);
  }

  /** Calls `listener` with what failed by itself (a join again after a reconnect). */
  onError(listener: (error: unknown) => void): () => void {
    return this.errorListeners.add(listener);
  }

  /**
   * Joins the room's call (`rt:peer-join`): the peers already there make this client
   * an offer each. After a reconnect it joins again by itself. A refused join (the
   * room is not joined: `NOT_IN_ROOM`) rejects, and may be tried again.
   */
  async join(): Promise<void> {
    if (this.joined) return;
    this.joined = true;
    const generation = this.generation;
    try {
      await this.listen();
      // leave() ran meanwhile: this join is over.
      if (generation !== this.generation) return;
      await this.announce();
    } catch (error) {
      if (generation === this.generation) this.joined = false;
      throw error;
    }
    if (generation !== this.generation) await this.sendLeave();
  }

  /**
   * A connection to the server's own peer in this room: tracks added to it are
   * forwarded to the room's other server-connected peers, theirs come back as tracks,
   * and its data channels are connections into the room. Resolves once it is made
   * (it negotiates by itself as tracks and channels are added). After a reconnect it
   * is gone (`onPeerLeft`): connect again.
   */
  async connectServer(): Promise<CallPeerConnection> {
    await this.listen();
    return (this.peers.get(SERVER) ?? this.connect(SERVER, null, false)).peer.pc;
  }

  /** Leaves the call: every connection (the server's too) is closed, and the others hear of it. */
  async leave(): Promise<void> {
    const inCall = this.joined || this.peers.has(SERVER);
    this.joined = false;
    this.generation++;
    this.listening = undefined;
    for (const stop of this.stops.splice(0)) stop();
    for (const id of this.peers.keys()) this.drop(id);
    if (inCall) await this.sendLeave();
  }

  /** Follows the server's signaling frames and fetches the ICE servers, once for all callers. */
  private listen(): Promise<void> {
    this.listening ??= this.startListening().catch((error: unknown) => {
      this.listening = undefined;
      for (const stop of this.stops.splice(0)) stop();
      throw error;
    });
    return this.listening;
  }

  private async startListening(): Promise<void> {
    this.stops.push(
      this.client.on('rt:peer-joined', (data) => {
        if (this.joined && data?.room === this.room && typeof data.peer?.id === 'string') {
          // Here first: impolite, and the one who offers.
          this.connect(data.peer.id, data.peer.userId ?? null, false);
        }
      }),
      this.client.on('rt:peer-left', (data) => {
        if (data?.room === this.room && typeof data.peer?.id === 'string') this.drop(data.peer.id);
      }),
      this.client.on('rt:signal', (data) => {
        if (data?.room === this.room && typeof data.from === 'string') this.signal(data);
      }),
      this.client.onState((state) => {
        // A new connection is a new peer to the others: the old connections are gone.
        if (state === 'reconnecting') for (const id of this.peers.keys()) this.drop(id);
        if (state === 'connected' && this.joined) {
          this.announce().catch((error: unknown) => this.report(error));
        }
      }),
    );
    this.iceServers ??=
      this.options.iceServers ??
      ((await this.client.request('rt:ice')) as { iceServers: CallIceServer[] }).iceServers;
  }

  private async announce(): Promise<void> {
    await this.client.request('rt:peer-join', { room: this.room });
  }

  private async sendLeave(): Promise<void> {
    await this.client.request('rt:peer-leave', { room: this.room }).catch(() => undefined);
  }

  private report(error: unknown): void {
    if (this.errorListeners.size > 0) this.errorListeners.emit(error);
    else console.warn(`nest-realtime: the call of "${this.room}" failed:`, error);
  }

  /** A peer connection to `id`, told to the app, negotiating as it changes. */
  private connect(id: string, userId: string | null, polite: boolean): Negotiation {
    this.drop(id);
    const Connection = this.options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    const pc = new Connection({ ...this.options.config, iceServers: this.iceServers ?? [] });
    const negotiation: Negotiation = {
      peer: { id, userId, pc },
      polite,
      makingOffer: false,
      ignoreOffer: false,
      queue: Promise.resolve(),
    };
    this.peers.set(id, negotiation);
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.send(id, { candidate: candidate.toJSON() });
    };
    pc.onnegotiationneeded = () => {
      negotiation.queue = negotiation.queue.then(() => this.offer(negotiation));
    };
    this.peerListeners.emit(negotiation.peer);
    return negotiation;
  }

  private async offer(negotiation: Negotiation): Promise<void> {
    const { pc } = negotiation.peer;
    try {
      negotiation.makingOffer = true;
      await pc.setLocalDescription();
      this.send(negotiation.peer.id, { description: descriptionOf(pc.localDescription!) });
    } catch {
      // closed meanwhile, or an offer of the other side won: it is negotiated there
    } finally {
      negotiation.makingOffer = false;
    }
  }

  private signal(data: {
    from: string;
    fromUser?: string | null;
    description?: any;
    candidate?: any;
  }): void {
    let negotiation = this.peers.get(data.from);
    if (!negotiation) {
      // An offer from a peer that came first, to a member of the call: the newcomer is polite.
      if (!this.joined || data.description?.type !== 'offer' || data.from === SERVER) return;
      negotiation = this.connect(data.from, data.fromUser ?? null, true);
    }
    const current = negotiation;
    current.queue = current.queue.then(() => this.apply(current, data)).catch(() => undefined);
  }

  private async apply(
    negotiation: Negotiation,
    {
      description,
      candidate,
    }: { description?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit | null },
  ): Promise<void> {
    const { pc } = negotiation.peer;
    if (description) {
      const collision =
        description.type === 'offer' && (negotiation.makingOffer || pc.signalingState !== 'stable');
      negotiation.ignoreOffer = !negotiation.polite && collision;
      if (negotiation.ignoreOffer) return;
      // Polite and offering too: ours yields (said outright, for peers without implicit rollback).
      if (collision && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' });
      }
      await pc.setRemoteDescription(description);
      if (description.type !== 'offer') return;
      await pc.setLocalDescription();
      this.send(negotiation.peer.id, { description: descriptionOf(pc.localDescription!) });
    } else if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (error) {
        if (!negotiation.ignoreOffer) throw error;
      }
    }
  }

  private send(to: string, part: { description?: unknown; candidate?: unknown }): void {
    // Not queued while offline: after a reconnect the peers are new, and so are the signals.
    if (this.client.state !== 'connected') return;
    this.client.emit('rt:signal', { room: this.room, to, ...part });
  }

  private drop(id: string): void {
    const negotiation = this.peers.get(id);
    if (!negotiation) return;
    this.peers.delete(id);
    negotiation.peer.pc.close();
    this.leftListeners.emit(negotiation.peer);
  }
}

/** A description as the wire carries it (a browser's is a class; werift's has more). */
function descriptionOf({ type, sdp }: RTCSessionDescriptionInit): RTCSessionDescriptionInit {
  return { type, sdp };
}
