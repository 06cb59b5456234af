import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteCoalescer } from './write-coalescer.js';

describe('WriteCoalescer', () => {
  it('holds the writes of a tick and lets them go together, in order, in one writev', async () => {
    const coalescer = new WriteCoalescer();
    const writes = [[], []] as number[][];
    // Each records how many chunks each underlying write carried.
    const sockets = writes.map(
      (log) =>
        new Writable({
          write(_chunk, _encoding, callback) {
            log.push(1);
            callback();
          },
          writev(chunks, callback) {
            log.push(chunks.length);
            callback();
          },
        }),
    );
    for (const [i, socket] of sockets.entries()) {
      coalescer.hold(socket);
      for (let n = 0; n < 5; n++) socket.write(`${i}:${n};`);
    }
    expect(sockets.map((s) => s.writableCorked)).toEqual([1, 1]);
    expect(writes).toEqual([[], []]);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(sockets.map((s) => s.writableCorked)).toEqual([0, 0]);
    expect(writes).toEqual([[5], [5]]);
  });

  it('schedules one release per tick, however many sockets it holds', async () => {
    const coalescer = new WriteCoalescer();
    const sockets = Array.from({ length: 100 }, () => new PassThrough());
    for (const socket of sockets) coalescer.hold(socket);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(sockets.every((s) => s.writableCorked === 0)).toBe(true);
    coalescer.hold(sockets[0]!);
    expect(sockets[0]!.writableCorked).toBe(1);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(sockets[0]!.writableCorked).toBe(0);
  });
});
