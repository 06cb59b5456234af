// werift peers as test clients, signaling through the server's rt:signal, and the
// guard that keeps WebRTC tests inside a network namespace with only loopback.
import { networkInterfaces } from 'node:os';
import { RTCPeerConnection, type RTCPeerConnectionConfig } from 'werift';
import type { Frame, TestClient } from './ws-client.js';
import { skipLoudly } from './fixtures.js';

/** A peer that offers loopback only and asks no STUN server (werift's default would). */
export const LOOPBACK_PEER: Partial<RTCPeerConnectionConfig> = {
  iceServers: [],
  iceAdditionalHostAddresses: ['127.0.0.1'],
};

/** What the server's own peers offer in tests. */
export const LOOPBACK_WEBRTC = { hostAddresses: ['127.0.0.1'] };

/**
 * Whether this process sees loopback only (`npm test` runs the suite in such a
 * namespace as root). Elsewhere WebRTC tests skip loudly; under CI=true they fail.
 */
export function loopbackOnly(): boolean {
  const names = Object.keys(networkInterfaces());
  if (names.length === 1 && names[0] === 'lo') return true;
  return skipLoudly(
    'WebRTC tests need a network namespace with only loopback (run `npm test` as root: ' +
      'it makes one); they are SKIPPED',
  );
}

type SignalPart = { description?: { type: string; sdp: string }; candidate?: unknown };

/**
 * A werift peer connection of a test client with one remote peer (another client's
 * connection id, or "server"), negotiated through the server's signaling: it sends
 * its offers, answers and candidates as `rt:signal` frames and applies the ones that
 * come from that peer. Polite as perfect negotiation says: its offer yields to theirs.
 */
export class SignalingPeer {
  readonly pc: RTCPeerConnection;
  /** What failed while applying the remote peer's signals. */
  readonly errors: unknown[] = [];
  private queue = Promise.resolve();
  /** Offers that came while offers are held (see holdOffers). */
  private held: { offers: number; released: Promise<void> } | undefined;
  private readonly listener = (raw: Buffer) => this.receive(JSON.parse(raw.toString()) as Frame);

  constructor(
    readonly client: TestClient,
    readonly room: string,
    readonly remote: string,
    config: Partial<RTCPeerConnectionConfig> = LOOPBACK_PEER,
  ) {
    this.pc = new RTCPeerConnection(config);
    this.pc.onIceCandidate.subscribe((candidate) => {
      if (candidate) this.signal({ candidate: candidate.toJSON() });
    });
    client.socket.on('message', this.listener);
  }

  /** Makes an offer to the remote peer. */
  async offer(): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    this.signal({ description: { type: 'offer', sdp: this.pc.localDescription!.sdp } });
  }

  /**
   * Holds the remote peer's offers (and all that follows them) until the returned
   * function is called: a peer slow to answer. `offersHeld()` counts the offers waiting.
   */
  holdOffers(): () => void {
    let release!: () => void;
    this.held = { offers: 0, released: new Promise<void>((resolve) => (release = resolve)) };
    return () => {
      this.held = undefined;
      release();
    };
  }

  /** How many offers of the remote peer wait for holdOffers' release. */
  offersHeld(): number {
    return this.held?.offers ?? 0;
  }

  /** Resolves once the connection is up. */
  async connected(timeout = 10_000): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    await this.pc.connectionStateChange.watch((state) => state === 'connected', timeout);
  }

  async close(): Promise<void> {
    this.client.socket.off('message', this.listener);
    await this.pc.close();
  }

  private signal(part: SignalPart): void {
    this.client.send({ event: 'rt:signal', data: { room: this.room, to: this.remote, ...part } });
  }

  private receive(frame: Frame): void {
    if (frame.event !== 'rt:signal') return;
    const { from, room, description, candidate } = frame.data as Record<string, any>;
    if (from !== this.remote || room !== this.room) return;
    const held = description?.type === 'offer' ? this.held : undefined;
    if (held) held.offers++;
    this.queue = this.queue
      .then(async () => {
        await held?.released;
        if (description) {
          if (description.type === 'offer' && this.pc.signalingState === 'have-local-offer') {
            await this.pc.setLocalDescription({ type: 'rollback' });
          }
          await this.pc.setRemoteDescription(description);
          if (description.type !== 'offer') return;
          await this.pc.setLocalDescription(await this.pc.createAnswer());
          this.signal({ description: { type: 'answer', sdp: this.pc.localDescription!.sdp } });
        } else if (candidate) {
          await this.pc.addIceCandidate(candidate);
        }
      })
      .catch((error: unknown) => {
        this.errors.push(error);
      });
  }
}
