import { Logger } from '@nestjs/common';
import type {
  MediaStreamTrack,
  RTCDataChannel,
  RTCPeerConnection,
  RTCRtpReceiver,
  RTCRtpTransceiver,
} from 'werift';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import { CloseCode, ErrorCode, RealtimeError } from '../../core/realtime-error.js';
import { fromServer, type Signal, type SignalDescription } from './signal.js';

const logger = new Logger('RealtimeWebRtc');

/** What a server peer asks of the node's set of peers. */
export interface PeerHost {
  createConnection(): RTCPeerConnection;
  readonly connectTimeout: number;
  /** A data channel the client opened: it becomes a connection of the core. */
  openChannel(peer: ServerPeer, channel: RTCDataChannel): void;
  /** A track the client sends: forwarded to the room's other peers. */
  publish(peer: ServerPeer, track: MediaStreamTrack, receiver: RTCRtpReceiver): void;
  /** The peer is closed: its channels, tracks and subscriptions go. */
  closed(peer: ServerPeer): void;
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
  /** Resolves once the first offer is answered: media can be added from then on. */
  readonly negotiated: Promise<void>;
  private settleNegotiated!: () => void;
  private queue = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private offerWanted = false;
  private open = true;
  /** The connections of the core its data channels are. */
  private readonly channels = new Set<RealtimeConnection>();

  constructor(
    readonly owner: RealtimeConnection,
    readonly room: string,
    private readonly host: PeerHost,
  ) {
    this.negotiated = new Promise((resolve) => (this.settleNegotiated = resolve));
    const pc = (this.pc = host.createConnection());
    pc.onIceCandidate.subscribe((candidate) => {
      if (candidate) this.toClient({ candidate: candidate.toJSON() });
    });
    pc.onDataChannel.subscribe((channel) => host.openChannel(this, channel));
    pc.onRemoteTransceiverAdded.subscribe((transceiver: RTCRtpTransceiver) => {
      transceiver.onTrack.subscribe((track) => host.publish(this, track, transceiver.receiver));
    });
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') clearTimeout(this.timer);
      if (state === 'failed' || state === 'closed') this.close(`the connection ${state}`);
    });
    this.timer = setTimeout(
      () => this.close(`not connected within ${host.connectTimeout} ms`),
      host.connectTimeout,
    );
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** A data channel of this peer, as a connection: closed with the peer. */
  adopt(connection: RealtimeConnection): void {
    if (this.open) this.channels.add(connection);
    else connection.close(CloseCode.GoingAway, 'the peer connection closed');
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

  /** Closes the peer connection and what it opened. Safe to call twice. */
  close(reason: string): void {
    if (!this.open) return;
    this.open = false;
    clearTimeout(this.timer);
    logger.debug(`server peer of ${this.owner.id} in "${this.room}" closed: ${reason}`);
    this.host.closed(this);
    for (const channel of this.channels)
      channel.close(CloseCode.GoingAway, 'the peer connection closed');
    this.channels.clear();
    this.pc.close().catch(() => undefined);
  }

  private async apply({ description, candidate }: Signal): Promise<void> {
    if (!this.open) return;
    if (description) {
      await this.describe(description);
      return;
    }
    if (!candidate) return; // the end of the client's candidates
    await refused(this.pc.addIceCandidate(candidate), 'the candidate');
  }

  private async describe(description: SignalDescription): Promise<void> {
    const { pc } = this;
    if (description.type === 'offer') {
      if (!/^m=/m.test(description.sdp)) {
        throw new RealtimeError(ErrorCode.InvalidData, 'the offer has no media or data section');
      }
      // Polite: the client's offer wins over one of ours.
      if (pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' });
        this.offerWanted = true;
      }
      await refused(pc.setRemoteDescription(description), 'the offer');
      await pc.setLocalDescription(await pc.createAnswer());
      this.toClient({ description: { type: 'answer', sdp: pc.localDescription!.sdp } });
      this.settleNegotiated();
    } else if (description.type === 'answer') {
      if (pc.signalingState !== 'have-local-offer') {
        throw new RealtimeError(ErrorCode.InvalidData, 'the server made no offer to answer');
      }
      await refused(pc.setRemoteDescription(description), 'the answer');
    } else {
      return; // rollback or pranswer: nothing of ours to undo
    }
    await this.offerIfWanted();
  }

  private async offerIfWanted(): Promise<void> {
    if (!this.open || !this.offerWanted || this.pc.signalingState !== 'stable') return;
    if (!this.pc.remoteDescription) return; // the client has not offered yet
    this.offerWanted = false;
    await this.pc.setLocalDescription(await this.pc.createOffer());
    this.toClient({ description: { type: 'offer', sdp: this.pc.localDescription!.sdp } });
  }

  private toClient(part: Pick<Signal, 'description' | 'candidate'>): void {
    if (this.open) this.owner.send(fromServer(this.room, part));
  }
}

/** A description or candidate werift refused is the client's error: INVALID_DATA. */
async function refused(step: Promise<unknown>, what: string): Promise<void> {
  try {
    await step;
  } catch (error) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `${what} was refused: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
