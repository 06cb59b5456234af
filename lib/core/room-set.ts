/**
 * A connection's rooms: most connections are in one, so one room is kept as its
 * name and a Set is made only for a second (a Set costs about 150 bytes of heap,
 * for every connection the server holds). It reads as a `ReadonlySet<string>`.
 *
 * @example
 * ```ts
 * const rooms = new RoomSet();
 * rooms.add('lobby');
 * rooms.has('lobby'); // true
 * [...rooms]; // ['lobby']
 * ```
 */
export class RoomSet implements ReadonlySet<string> {
  private one: string | undefined;
  private several: Set<string> | undefined;

  get size(): number {
    return this.several ? this.several.size : this.one === undefined ? 0 : 1;
  }

  has(room: string): boolean {
    return this.several ? this.several.has(room) : this.one === room;
  }

  add(room: string): this {
    if (this.several) this.several.add(room);
    else if (this.one === undefined) this.one = room;
    else if (this.one !== room) {
      this.several = new Set([this.one, room]);
      this.one = undefined;
    }
    return this;
  }

  delete(room: string): boolean {
    if (this.several) return this.several.delete(room);
    if (this.one !== room) return false;
    this.one = undefined;
    return true;
  }

  *values(): SetIterator<string> {
    if (this.several) yield* this.several;
    else if (this.one !== undefined) yield this.one;
  }

  keys(): SetIterator<string> {
    return this.values();
  }

  *entries(): SetIterator<[string, string]> {
    for (const room of this.values()) yield [room, room];
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }

  forEach(
    callback: (value: string, key: string, set: ReadonlySet<string>) => void,
    thisArg?: unknown,
  ): void {
    for (const room of this.values()) callback.call(thisArg, room, room, this);
  }
}
