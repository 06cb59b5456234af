/**
 * What the server uses of a data channel that a client opened to the server's peer:
 * werift's `RTCDataChannel` has it all. Declared here so that the published types do
 * not name werift, an optional peer dependency an app without WebRTC does not install.
 *
 * @example
 * ```ts
 * // a werift RTCDataChannel, as the server's peer got it from the client
 * const channel: ServerDataChannel = event.channel;
 * channel.onMessage.subscribe((message) => console.log(message));
 * ```
 */
export interface ServerDataChannel {
  /** `connecting`, `open`, `closing` or `closed`. */
  readonly readyState: string;
  /** Bytes queued to send and not yet sent. */
  readonly bufferedAmount: number;
  /** Each message the client sent: text, or bytes. */
  readonly onMessage: {
    subscribe(listener: (message: string | Buffer) => void): unknown;
  };
  /** Each change of `readyState`. */
  readonly stateChanged: { subscribe(listener: (state: string) => void): unknown };
  send(data: string): void;
  close(): void;
}
