/**
 * The last sequence of payloads turned into bytes, and those bytes. A broadcast
 * hands the same payloads, in the same order, to every member of a room in turn,
 * so remembering the last sequence (by identity: nothing is compared byte by byte)
 * lets all of them share one buffer, and one write each.
 *
 * @example
 * ```ts
 * const last = new LastSequence();
 * const tick = [a, b];
 * last.bytesOf(tick, (all) => Buffer.concat(all)) === last.bytesOf([a, b], (all) => Buffer.concat(all)); // true
 * ```
 */
export class LastSequence {
  private payloads: readonly Buffer[] = [];
  private bytes: Buffer | undefined;

  /** The bytes of `payloads`, built by `build` unless they are the last sequence's. */
  bytesOf(payloads: readonly Buffer[], build: (payloads: readonly Buffer[]) => Buffer): Buffer {
    if (this.bytes === undefined || !samePayloads(payloads, this.payloads)) {
      this.payloads = [...payloads];
      this.bytes = build(payloads);
    }
    return this.bytes;
  }
}

function samePayloads(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
