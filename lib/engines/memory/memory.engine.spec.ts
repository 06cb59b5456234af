import { describe, expect, it } from 'vitest';
import { describeEngineConformance } from '../../../test/support/engine-conformance.js';
import { MemoryEngine } from './memory.engine.js';

describeEngineConformance('memory', async () => new MemoryEngine());

describe('MemoryEngine', () => {
  it('delivers synchronously, inside publish', async () => {
    const engine = new MemoryEngine();
    const seen: string[] = [];
    await engine.start({ deliver: (p) => seen.push(p.frame.toString()) });
    const published = engine.publish({ channels: ['*'], frame: Buffer.from('x'), except: [] });
    expect(seen).toEqual(['x']);
    await published;
  });

  it('delivers nothing after close and forgets its rooms', async () => {
    const engine = new MemoryEngine();
    const seen: string[] = [];
    await engine.start({ deliver: (p) => seen.push(p.frame.toString()) });
    await engine.createRoom('r', 1);
    await engine.close();
    await engine.publish({ channels: ['*'], frame: Buffer.from('x'), except: [] });
    expect(seen).toEqual([]);
    expect(await engine.getRoom('r')).toBeUndefined();
  });
});

const publication = (channel: string, text: string) => ({
  channels: [channel],
  frame: Buffer.from(text),
  except: [],
});

describe('MemoryEngine sharing a store', () => {
  it('delivers to every node that listens to a channel, and keeps one set of rooms', async () => {
    const a = new MemoryEngine('spec-a');
    const b = new MemoryEngine('spec-a');
    const seenA: string[] = [];
    const seenB: string[] = [];
    await a.start({ deliver: (p) => seenA.push(p.frame.toString()) });
    await b.start({ deliver: (p) => seenB.push(p.frame.toString()) });
    await a.publish(publication('*', 'all'));
    await a.publish(publication('r:x', 'room before'));
    await b.subscribe('r:x');
    await a.publish(publication('r:x', 'room after'));
    await b.unsubscribe('r:x');
    await a.publish(publication('r:x', 'room gone'));
    expect(seenB).toEqual(['all', 'room after']);
    expect(seenA).toEqual(['all', 'room before', 'room after', 'room gone']);
    await a.createRoom('shared-room', 1);
    expect(await b.getRoom('shared-room')).toMatchObject({ name: 'shared-room' });
    await a.close();
    await b.close();
  });

  it('keeps history while one node restarts, and forgets it when the last one closes', async () => {
    const retention = { maxCount: 10, maxAge: 60_000 };
    const a = new MemoryEngine('spec-b');
    const b = new MemoryEngine('spec-b');
    await a.start({ deliver: () => undefined });
    await b.start({ deliver: () => undefined });
    const first = await a.publishToRoom('h', 'r:h', Buffer.from('{"event":"m"'), [], retention, 1);
    await a.close();
    const again = new MemoryEngine('spec-b');
    await again.start({ deliver: () => undefined });
    const read = await again.readRoom('h', { epoch: first.epoch, offset: 0 }, 10, 2);
    expect(read).toMatchObject({ recovered: true, epoch: first.epoch });
    expect(read.messages).toHaveLength(1);
    await again.close();
    await b.close();
    const fresh = new MemoryEngine('spec-b');
    await fresh.start({ deliver: () => undefined });
    const lost = await fresh.readRoom('h', { epoch: first.epoch, offset: 0 }, 10, 3);
    expect(lost.recovered).toBe(false);
    await fresh.close();
  });

  it('gives engines without a name stores of their own', async () => {
    const a = new MemoryEngine();
    const b = new MemoryEngine();
    await a.start({ deliver: () => undefined });
    await b.start({ deliver: () => undefined });
    await a.createRoom('mine', 1);
    expect(await b.getRoom('mine')).toBeUndefined();
    await a.close();
    await b.close();
  });
});
