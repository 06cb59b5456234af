import { RateLimiter } from '../../core/limits/rate-limiter.js';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';
import type { ResolvedWebRtcOptions } from './webrtc.options.js';

/**
 * How many m-sections (media and data sections) a session description has: a scan of
 * its lines, cheap enough for every description a client sends, before werift parses
 * it (werift's cost grows with the sections: each one is parsed, matched, answered).
 *
 * @example
 * ```ts
 * mediaSections('v=0\r\n...\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n...'); // 1
 * ```
 */
export function mediaSections(sdp: string): number {
  return sdp.match(/^m=/gm)?.length ?? 0;
}

/** The options the bounds read. */
export type OfferLimitOptions = Pick<
  ResolvedWebRtcOptions,
  'maxTracksPerPeer' | 'offersPerSecond' | 'offerBurst'
>;

/**
 * What one client connection may make the server's peers negotiate: offers at
 * `webrtc.offersPerSecond` (saving up `offerBurst`), each with no more m-sections than
 * the server's own (the tracks it forwards to the client, which a re-offer repeats),
 * `maxTracksPerPeer` of the client's and one data section. Both are decided before
 * werift reads the offer, so a refused one costs a line scan and leaves the peer as
 * it was. The bucket is the connection's, not a peer's: a peer closed and made again
 * would start with a full one.
 *
 * @example
 * ```ts
 * const limits = new OfferLimits(options);
 * limits.admit(client.id, offer.sdp, peer?.serverSections ?? 0); // throws past a bound
 * limits.forget(client.id); // the client is gone
 * ```
 */
export class OfferLimits {
  private readonly buckets = new Map<string, RateLimiter>();

  constructor(private readonly options: OfferLimitOptions) {}

  /**
   * Takes an offer of the connection's, with `serverSections` m-sections of the
   * server's on its peer.
   *
   * @throws RealtimeError RATE_LIMITED past the rate, TRACK_LIMIT_REACHED past the sections.
   */
  admit(connectionId: string, sdp: string, serverSections: number): void {
    const { maxTracksPerPeer, offersPerSecond, offerBurst } = this.options;
    let bucket = this.buckets.get(connectionId);
    if (!bucket) {
      // Offers only: their bytes are bounded by maxSdpBytes, so the byte bucket is empty
      // and each offer takes 0 of it; refusals are answered, and never close anything.
      const policy = { messagesPerSecond: offersPerSecond, messageBurst: offerBurst };
      bucket = new RateLimiter({
        ...policy,
        bytesPerSecond: 0,
        byteBurst: 0,
        maxRefused: Infinity,
      });
      this.buckets.set(connectionId, bucket);
    }
    if (bucket.take(0) !== 'admit') {
      throw new RealtimeError(
        ErrorCode.RateLimited,
        `at most ${offersPerSecond} offers a second to the server (a burst of ${offerBurst})`,
      );
    }
    const sections = mediaSections(sdp);
    const allowed = serverSections + maxTracksPerPeer + 1;
    if (sections > allowed) {
      throw new RealtimeError(
        ErrorCode.TrackLimitReached,
        `the offer has ${sections} m-sections, at most ${allowed}: the server's ${serverSections}, ` +
          `${maxTracksPerPeer} tracks of the client's (webrtc.maxTracksPerPeer) and one data section`,
      );
    }
  }

  /** The connection is gone: its bucket goes with it. */
  forget(connectionId: string): void {
    this.buckets.delete(connectionId);
  }
}
