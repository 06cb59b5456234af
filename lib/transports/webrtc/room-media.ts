import { Logger } from '@nestjs/common';
import type {
  MediaStreamTrack,
  RTCRtpReceiver,
  RTCRtpSender,
  RTCRtpTransceiver,
  RtcpPacket,
} from 'werift';
import type { ServerPeer } from './server-peer.js';

const logger = new Logger('RealtimeWebRtc');

/** RTCP payload-specific feedback (RFC 4585), and its keyframe requests: PLI, and FIR (RFC 5104). */
const PSFB = 206;
const PLI = 1;
const FIR = 4;
/** The least time between two keyframe requests to one sender, in ms; one asked sooner waits. */
const KEYFRAME_INTERVAL = 250;

/**
 * Whether an RTCP packet asks the stream `ssrc` for a keyframe (a PLI or a FIR). Its
 * media SSRC decides, not its sender SSRC: a subscriber that also sends media (Chromium)
 * puts its own outgoing stream there, and werift would route the request to that.
 */
function asksKeyframe(packet: RtcpPacket, ssrc: number): boolean {
  if (packet.type !== PSFB) return false;
  const { feedback } = packet;
  if (feedback.count === PLI) return feedback.mediaSsrc === ssrc;
  if (feedback.count === FIR && 'fir' in feedback) {
    return feedback.fir.some((entry) => entry.ssrc === ssrc);
  }
  return false;
}

/** What the router needs of werift to make a subscriber's outgoing track. */
export interface TrackFactory {
  track(kind: 'audio' | 'video'): MediaStreamTrack;
  stream(id: string): unknown;
}

/** A subscriber's copy of a track. */
interface Subscription {
  readonly transceiver: RTCRtpTransceiver;
  readonly sender: RTCRtpSender;
  /**
   * Whether the subscriber takes packets yet: its transport is up AND it has answered
   * the offer with this track (an already-connected peer is up from the start). It
   * then needs a keyframe.
   */
  flowing: boolean;
  /** Stops following the subscriber's keyframe requests. */
  readonly stop: () => void;
}

/** One track a peer sends, and where it is forwarded. */
interface Publication {
  readonly peer: ServerPeer;
  readonly track: MediaStreamTrack;
  readonly receiver: RTCRtpReceiver;
  /** Per subscriber, the sender its copy goes out on. */
  readonly senders: Map<ServerPeer, Subscription>;
  /** When a keyframe was last asked of the sender, and the request waiting its turn. */
  keyframeAt: number;
  keyframeLater?: NodeJS.Timeout;
  stop(): void;
}

/**
 * Media forwarding (SFU) within one room of this node: each track a peer sends to
 * the server goes to every other peer of the room, as a track of its own on that
 * peer's connection (streams named after the sender's connection id). Every packet is
 * cloned per subscriber (werift rewrites a packet as it sends it); a subscriber that
 * starts receiving (once it has answered with the track), and every keyframe request
 * (PLI, FIR) a subscriber sends, gets a keyframe asked of the sender (PLI), at most one
 * per 250 ms.
 * When a peer goes, its tracks leave the others' connections.
 *
 * @example
 * ```ts
 * const media = new RoomMedia(factory);
 * media.join(peer); // gets the room's tracks once negotiated
 * media.publish(peer, track, receiver); // forwarded to the other peers
 * ```
 */
export class RoomMedia {
  private readonly peers = new Set<ServerPeer>();
  private readonly publications = new Set<Publication>();

  constructor(private readonly factory: TrackFactory) {}

  get empty(): boolean {
    return this.peers.size === 0;
  }

  /** Tracks the room's peers send. */
  get received(): number {
    return this.publications.size;
  }

  /** Copies of them going out to the other peers. */
  get forwarded(): number {
    let copies = 0;
    for (const { senders } of this.publications) copies += senders.size;
    return copies;
  }

  /** A peer of the room: it receives every track published by the others. */
  join(peer: ServerPeer): void {
    this.peers.add(peer);
    for (const publication of this.publications) this.subscribe(peer, publication);
  }

  /** A peer goes: its tracks stop, and its copies of the others' stop. */
  leave(peer: ServerPeer): void {
    if (!this.peers.delete(peer)) return;
    for (const publication of this.publications) {
      if (publication.peer === peer) {
        this.unpublish(publication);
      } else {
        publication.senders.get(peer)?.stop();
        publication.senders.delete(peer);
      }
    }
  }

  /** A track a peer sends: forwarded, packet by packet, to each other peer. */
  publish(peer: ServerPeer, track: MediaStreamTrack, receiver: RTCRtpReceiver): void {
    if (!this.peers.has(peer)) return;
    const senders = new Map<ServerPeer, Subscription>();
    const forwarding = track.onReceiveRtp.subscribe((rtp) => {
      let started = false;
      for (const subscription of senders.values()) {
        // One clone per subscriber: sendRtp rewrites the packet's header.
        subscription.sender.sendRtp(rtp.clone()).catch(() => undefined);
        if (!subscription.flowing && receives(subscription)) {
          // The subscriber can receive from now on: it starts from a keyframe.
          subscription.flowing = true;
          started = true;
        }
      }
      // One keyframe request, however many subscribers started with this packet.
      if (started) this.keyframe(publication);
    });
    const publication: Publication = {
      peer,
      track,
      receiver,
      senders,
      keyframeAt: 0,
      stop: () => {
        forwarding.unSubscribe();
        clearTimeout(publication.keyframeLater);
      },
    };
    this.publications.add(publication);
    for (const other of this.peers) if (other !== peer) this.subscribe(other, publication);
  }

  /** Asks the sender of a publication for a keyframe, or once the last request is old enough. */
  private keyframe(publication: Publication): void {
    const { ssrc, kind } = publication.track;
    if (ssrc === undefined || kind !== 'video' || publication.keyframeLater) return;
    const wait = publication.keyframeAt + KEYFRAME_INTERVAL - Date.now();
    if (wait > 0) {
      publication.keyframeLater = setTimeout(() => {
        publication.keyframeLater = undefined;
        if (this.publications.has(publication)) this.keyframe(publication);
      }, wait);
      return;
    }
    publication.keyframeAt = Date.now();
    publication.receiver.sendRtcpPLI(ssrc).catch((error: unknown) => {
      logger.debug(`a PLI to ${publication.peer.owner.id} failed: ${String(error)}`);
    });
  }

  private subscribe(peer: ServerPeer, publication: Publication): void {
    // Media is added once the peer is connected (an answer cannot add it, and an offer
    // during the ICE checks would turn the roles around).
    void peer.connected.then(() => {
      if (!peer.isOpen || !this.publications.has(publication) || !this.peers.has(peer)) return;
      const outgoing = this.factory.track(publication.track.kind as 'audio' | 'video');
      const stream = this.factory.stream(publication.peer.owner.id) as never;
      const transceiver = peer.pc.addTransceiver(outgoing, {
        direction: 'sendonly',
        streams: [stream],
      });
      const { sender } = transceiver;
      // And again whenever it asks for one (it lost the picture, or never had one).
      const requests = sender.dtlsTransport.onRtcp.subscribe((packet) => {
        if (asksKeyframe(packet, sender.ssrc)) this.keyframe(publication);
      });
      publication.senders.set(peer, {
        transceiver,
        sender,
        flowing: false,
        stop: () => requests.unSubscribe(),
      });
      peer.renegotiate();
    });
  }

  private unpublish(publication: Publication): void {
    publication.stop();
    this.publications.delete(publication);
    for (const [subscriber, { sender, stop }] of publication.senders) {
      stop();
      if (!subscriber.isOpen) continue;
      try {
        subscriber.pc.removeTrack(sender);
      } catch (error) {
        logger.debug(`removing a forwarded track failed: ${String(error)}`);
      }
      subscriber.renegotiate();
    }
    publication.senders.clear();
  }
}

/** Whether a subscriber takes its copy: connected, and negotiated to receive it. */
function receives({ sender, transceiver }: Subscription): boolean {
  const direction = transceiver.currentDirection;
  return (
    sender.dtlsTransport.state === 'connected' &&
    (direction === 'sendonly' || direction === 'sendrecv')
  );
}
