import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeEngineConformance } from '../../testing/engine-conformance.js';
import { MemoryEngine } from './memory.engine.js';

describeEngineConformance('memory', async () => new MemoryEngine(), {
  describe,
  it,
  expect,
  beforeEach,
  afterEach,
});

describe('MemoryEngine', () => {
  it('delivers synchronously, inside publish', async () => {
    const engine = new MemoryEngine();
    const seen: string[] = [];
    await engine.start('n1', {
      deliver: (p) => seen.push(p.frame.toString()),
      control: () => undefined,
    });
    const published = engine.broker.publish({
      channels: ['*'],
      frame: Buffer.from('x'),
      except: [],
    });
    expect(seen).toEqual(['x']);
    await published;
  });

  it('delivers nothing after close and forgets its rooms', async () => {
    const engine = new MemoryEngine();
    const seen: string[] = [];
    await engine.start('n1', {
      deliver: (p) => seen.push(p.frame.toString()),
      control: () => undefined,
    });
    await engine.rooms.create('r', 1);
    await engine.close();
    await engine.broker.publish({ channels: ['*'], frame: Buffer.from('x'), except: [] });
    expect(seen).toEqual([]);
    expect(await engine.rooms.get('r')).toBeUndefined();
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
    await a.start('a', {
      deliver: (p) => seenA.push(p.frame.toString()),
      control: () => undefined,
    });
    await b.start('b', {
      deliver: (p) => seenB.push(p.frame.toString()),
      control: () => undefined,
    });
    await a.broker.publish(publication('*', 'all'));
    await a.broker.publish(publication('r:x', 'room before'));
    await b.broker.subscribe('r:x');
    await a.broker.publish(publication('r:x', 'room after'));
    await b.broker.unsubscribe('r:x');
    await a.broker.publish(publication('r:x', 'room gone'));
    expect(seenB).toEqual(['all', 'room after']);
    expect(seenA).toEqual(['all', 'room before', 'room after', 'room gone']);
    await a.rooms.create('shared-room', 1);
    expect(await b.rooms.get('shared-room')).toMatchObject({ name: 'shared-room' });
    await a.close();
    await b.close();
  });

  it('keeps history while one node restarts, and forgets it when the last one closes', async () => {
    const retention = { maxCount: 10, maxAge: 60_000 };
    const a = new MemoryEngine('spec-b');
    const b = new MemoryEngine('spec-b');
    await a.start('a', { deliver: () => undefined, control: () => undefined });
    await b.start('b', { deliver: () => undefined, control: () => undefined });
    const first = await a.broker.publishToRoom({
      room: 'h',
      channel: 'r:h',
      body: Buffer.from('{"event":"m"'),
      except: [],
      retention,
      now: 1,
    });
    await a.close();
    const again = new MemoryEngine('spec-b');
    await again.start('a', { deliver: () => undefined, control: () => undefined });
    const read = await again.broker.readRoom('h', { epoch: first.epoch, offset: 0 }, 10, 2);
    expect(read).toMatchObject({ recovered: true, epoch: first.epoch });
    expect(read.messages).toHaveLength(1);
    await again.close();
    await b.close();
    const fresh = new MemoryEngine('spec-b');
    await fresh.start('n1', { deliver: () => undefined, control: () => undefined });
    const lost = await fresh.broker.readRoom('h', { epoch: first.epoch, offset: 0 }, 10, 3);
    expect(lost.recovered).toBe(false);
    await fresh.close();
  });

  it('hands an order to the node it names, and one to all nodes to every node', async () => {
    const a = new MemoryEngine('spec-c');
    const b = new MemoryEngine('spec-c');
    const ordersA: string[] = [];
    const ordersB: string[] = [];
    await a.start('a', { deliver: () => undefined, control: (o) => ordersA.push(o.toString()) });
    await b.start('b', { deliver: () => undefined, control: (o) => ordersB.push(o.toString()) });
    await a.controller.send('b', Buffer.from('to b'));
    await b.controller.send(undefined, Buffer.from('to all'));
    expect(ordersA).toEqual(['to all']);
    expect(ordersB).toEqual(['to b', 'to all']);
    await b.close();
    await a.controller.send('b', Buffer.from('gone'));
    expect(ordersB).toEqual(['to b', 'to all']);
    await a.close();
  });

  it('gives engines without a name stores of their own', async () => {
    const a = new MemoryEngine();
    const b = new MemoryEngine();
    await a.start('a', { deliver: () => undefined, control: () => undefined });
    await b.start('b', { deliver: () => undefined, control: () => undefined });
    await a.rooms.create('mine', 1);
    expect(await b.rooms.get('mine')).toBeUndefined();
    await a.close();
    await b.close();
  });
});
