import { Logger } from '@nestjs/common';
import type {
  MediaStreamTrack,
  RTCDataChannel,
  RTCPeerConnection,
  RTCRtpReceiver,
  RTCRtpTransceiver,
} from 'werift';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import type { DataChannelConnection } from './data-channel-connection.js';
import { CloseCode, ErrorCode, RealtimeError } from '../../protocol/index.js';
import { mediaSections } from './offer-limits.js';
import { closeGracefully } from './peer-closing.js';
import { fromServer, type Signal, type SignalDescription } from './signal.js';

const logger = new Logger('RealtimeWebRtc');

/** What a server peer asks of the node's set of peers. */
export interface PeerHost {
  createConnection(): RTCPeerConnection;
  readonly connectTimeout: number;
  /** How long a close waits for the client to confirm its channels closed, in ms. */
  readonly closeTimeout: number;
  /** A data channel the client opened: it becomes a connection of the core. */
  openChannel(peer: ServerPeer, channel: RTCDataChannel): void;
  /** A track the client sends: forwarded to the room's other peers. */
  publish(peer: ServerPeer, track: MediaStreamTrack, receiver: RTCRtpReceiver): void;
  /**
   * The peer is closed: its channels, tracks and subscriptions go; `closing` resolves
   * once its connection is closed (it never rejects).
   */
  closed(peer: ServerPeer, closing: Promise<void>): void;
}

/**
 * The server's end of one client's peer connection in one room (werift): it answers
 * the client's offers (the server is the polite peer: it rolls its own offer back when
 * both offer at once), offers when the room's media change, trickles its ICE
 * candidates over the signaling channel, and closes, with everything it opened, when
 * the client leaves, fails to connect within `connectTimeout`, or disconnects.
 *
 * @example
 * ```ts
 * const peer = new ServerPeer(client, 'call:1', host);
 * await peer.signal({ room: 'call:1', to: 'server', description: offer });
 * ```
 */
export class ServerPeer {
  readonly pc: RTCPeerConnection;
  /**
   * Resolves once the connection is up: media can be added from then on (an offer of
   * the server's before that would turn the ICE roles around mid-check).
   */
  readonly connected: Promise<void>;
  private settleConnected!: () => void;
  private queue = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private offerWanted = false;
  private open = true;
  private closing: Promise<void> | undefined;
  /** The connections of the core its open data channels are. */
  private readonly channels = new Set<DataChannelConnection>();
  /** The transceivers werift made for the client's own media sections. */
  private readonly clientTransceivers = new WeakSet<RTCRtpTransceiver>();

  constructor(
    readonly owner: RealtimeConnection,
    readonly room: string,
    private readonly host: PeerHost,
  ) {
    this.connected = new Promise((resolve) => (this.settleConnected = resolve));
    const pc = (this.pc = host.createConnection());
    pc.onIceCandidate.subscribe((candidate) => {
      if (candidate) this.toClient({ candidate: candidate.toJSON() });
    });
    pc.onDataChannel.subscribe((channel) => host.openChannel(this, channel));
    pc.onRemoteTransceiverAdded.subscribe((transceiver: RTCRtpTransceiver) => {
      this.clientTransceivers.add(transceiver);
      transceiver.onTrack.subscribe((track) => host.publish(this, track, transceiver.receiver));
    });
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(this.timer);
        this.settleConnected();
      } else if (state === 'disconnected') {
        // Back within connectTimeout, or closed: a peer that went quiet is not kept.
        this.closeUnlessConnected('the connection was lost');
      } else if (state === 'failed' || state === 'closed') {
        this.close(`the connection ${state}`);
      }
    });
    this.closeUnlessConnected('not connected');
  }

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * The media sections of the server's own: the tracks it forwards to the client,
   * which every re-offer of the client's repeats (those of tracks gone too, inactive).
   */
  get serverSections(): number {
    const ours = this.pc.getTransceivers().filter((t) => !this.clientTransceivers.has(t));
    return ours.length;
  }

  /**
   * A data channel of this peer, as a connection: closed with the peer, and forgotten
   * when it closes first. False (and closed) past `maxChannels`, or when the peer is gone.
   */
  adopt(connection: DataChannelConnection, maxChannels: number): boolean {
    if (!this.open || this.channels.size >= maxChannels) {
      const reason = this.open ? 'too many channels' : 'the peer closed';
      // After werift has acknowledged the channel's opening (it is in the middle of it).
      setImmediate(() => connection.close(CloseCode.GoingAway, reason));
      return false;
    }
    this.channels.add(connection);
    connection.onClose(() => this.channels.delete(connection));
    return true;
  }

  private closeUnlessConnected(reason: string): void {
    clearTimeout(this.timer);
    const timeout = this.host.connectTimeout;
    this.timer = setTimeout(() => {
      if (this.pc.connectionState !== 'connected') this.close(`${reason} within ${timeout} ms`);
    }, timeout);
  }

  /** Applies a client's signal; signals are applied one at a time, in order. */
  signal(signal: Signal): Promise<void> {
    const applied = this.queue.then(() => this.apply(signal));
    this.queue = applied.catch(() => undefined);
    return applied;
  }

  /** The room's media changed: the server offers again, once the state allows. */
  renegotiate(): void {
    this.offerWanted = true;
    this.queue = this.queue
      .then(() => this.offerIfWanted())
      .catch((error: unknown) => {
        logger.warn(`an offer to ${this.owner.id} failed: ${String(error)}`);
      });
  }

  /**
   * Closes the peer connection and what it opened, telling the client's peer (its
   * channels close at once; see closeGracefully). The peer is gone from its host at
   * once; the promise resolves once the connection is closed. Safe to call twice.
   */
  close(reason: string): Promise<void> {
    if (this.closing) return this.closing;
    this.open = false;
    clearTimeout(this.timer);
    logger.debug(`server peer of ${this.owner.id} in "${this.room}" closed: ${reason}`);
    for (const channel of this.channels) {
      channel.close(CloseCode.GoingAway, 'the peer connection closed');
    }
    this.closing = closeGracefully(this.pc, this.host.closeTimeout).catch((error: unknown) => {
      logger.warn(`closing the server peer of ${this.owner.id} failed: ${String(error)}`);
    });
    this.host.closed(this, this.closing);
    return this.closing;
  }

  private async apply({ description, candidate }: Signal): Promise<void> {
    if (!this.open) return;
    if (description) {
      await this.describe(description);
      return;
    }
    if (!candidate) return; // the end of the client's candidates
    await this.step(this.pc.addIceCandidate(candidate), 'the candidate');
  }

  private async describe(description: SignalDescription): Promise<void> {
    const { pc } = this;
    if (description.type === 'offer') {
      if (mediaSections(description.sdp) === 0) {
        throw new RealtimeError(ErrorCode.InvalidData, 'the offer has no media or data section');
      }
      // Polite: the client's offer wins over one of ours.
      if (pc.signalingState === 'have-local-offer') {
        await this.step(pc.setLocalDescription({ type: 'rollback' }), 'the rollback');
        this.offerWanted = true;
      }
      await this.step(pc.setRemoteDescription(description), 'the offer');
      const answered = pc.createAnswer().then((answer) => pc.setLocalDescription(answer));
      await this.step(answered, 'the offer');
      this.toClient({ description: { type: 'answer', sdp: pc.localDescription!.sdp } });
    } else if (description.type === 'answer') {
      if (pc.signalingState !== 'have-local-offer') {
        throw new RealtimeError(ErrorCode.InvalidData, 'the server made no offer to answer');
      }
      // An answer has the offer's sections (JSEP): more would be werift's work for nothing.
      const offered = mediaSections(pc.localDescription!.sdp);
      if (mediaSections(description.sdp) > offered) {
        throw new RealtimeError(
          ErrorCode.InvalidData,
          `the answer has more than the offer's ${offered} m-sections`,
        );
      }
      await this.step(pc.setRemoteDescription(description), 'the answer');
    } else {
      return; // rollback or pranswer: nothing of ours to undo
    }
    await this.offerIfWanted();
  }

  /**
   * One werift step of applying a signal: a refusal is the client's error
   * (INVALID_DATA), and a peer closed meanwhile (the client left) is PEER_NOT_FOUND.
   */
  private async step(work: Promise<unknown>, what: string): Promise<void> {
    try {
      await work;
    } catch (error) {
      if (!this.open) throw gone();
      throw new RealtimeError(
        ErrorCode.InvalidData,
        `${what} was refused: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (!this.open) throw gone();
  }

  private async offerIfWanted(): Promise<void> {
    if (!this.open || !this.offerWanted || this.pc.signalingState !== 'stable') return;
    if (!this.pc.remoteDescription) return; // the client has not offered yet
    this.offerWanted = false;
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const sdp = offeredSetup(this.pc.localDescription!.sdp);
    this.toClient({ description: { type: 'offer', sdp } });
  }

  private toClient(part: Pick<Signal, 'description' | 'candidate'>): void {
    if (this.open) this.owner.send(fromServer(this.room, part));
  }
}

/**
 * An offer as RFC 8842 wants it: `a=setup:actpass` (werift's re-offers carry the role
 * it took, `active`, which standard peers such as aiortc refuse in an offer). The
 * answer keeps the roles of the DTLS association that exists, so nothing changes.
 */
function offeredSetup(sdp: string): string {
  return sdp.replace(/^a=setup:(?:active|passive)\r?$/gm, (line) =>
    line.replace(/setup:\w+/, 'setup:actpass'),
  );
}

function gone(): RealtimeError {
  return new RealtimeError(ErrorCode.PeerNotFound, 'the server peer closed meanwhile');
}
