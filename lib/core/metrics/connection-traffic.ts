/**
 * What one connection has been sent and refused. The connection counts it in fields
 * of its own (the hot paths add to the object they hold already: no other object per
 * delivery); the metrics and the inspector read it when asked, and when the
 * connection goes the hub adds it to its transport's totals.
 *
 * @example
 * ```ts
 * const { framesSent, bytesSent }: ConnectionTraffic = connection.traffic;
 * ```
 */
export interface ConnectionTraffic {
  /** Messages of publications handed to the connection (live and replayed). */
  readonly delivered: number;
  /** Frames of every kind the transport took to send (deliveries, replies, errors, pings). */
  readonly framesSent: number;
  /** The bytes of those frames' JSON, before the transport's own framing or compression. */
  readonly bytesSent: number;
  /** Volatile messages skipped because the connection was behind. */
  readonly volatileSkipped: number;
}
