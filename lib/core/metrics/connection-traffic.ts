/**
 * What one connection has been sent and refused, counted on the connection itself:
 * the hot paths add to a field of an object they hold already, and the metrics
 * (and the inspector) read them when asked. When the connection goes, the hub adds
 * its counts to its transport's totals.
 *
 * @example
 * ```ts
 * const { framesSent, bytesSent } = connection.traffic;
 * ```
 */
export class ConnectionTraffic {
  /** Messages of publications handed to the connection (live and replayed). */
  delivered = 0;
  /** Frames of every kind the transport took to send (deliveries, replies, errors, pings). */
  framesSent = 0;
  /** The bytes of those frames' JSON, before the transport's own framing or compression. */
  bytesSent = 0;
  /** Volatile messages skipped because the connection was behind. */
  volatileSkipped = 0;

  /** A frame of `bytes` bytes went to the transport. */
  sent(bytes: number): void {
    this.framesSent++;
    this.bytesSent += bytes;
  }
}
