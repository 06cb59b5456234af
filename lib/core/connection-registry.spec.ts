import { describe, expect, it } from 'vitest';
import { ConnectionRegistry, type ChannelSubscriber } from './connection-registry.js';

const subscriber = (id: string): ChannelSubscriber => ({ id, send: () => undefined });

describe('ConnectionRegistry channels', () => {
  it('says which subscriber is the first and which the last, one or several, in order', () => {
    const registry = new ConnectionRegistry();
    const [a, b, c] = [subscriber('a'), subscriber('b'), subscriber('c')];
    expect(registry.subscribe('ch', a)).toBe(true);
    expect(registry.subscribe('ch', a)).toBe(false); // twice is once
    expect([...registry.subscribers('ch')!]).toStrictEqual([a]);
    expect(registry.subscribe('ch', b)).toBe(false);
    expect(registry.subscribe('ch', c)).toBe(false);
    expect([...registry.subscribers('ch')!]).toStrictEqual([a, b, c]);
    expect(registry.subscriberCount('ch')).toBe(3);
    expect(registry.unsubscribe('ch', a)).toBe(false);
    expect(registry.unsubscribe('ch', a)).toBe(false); // not subscribed any more
    expect(registry.unsubscribe('ch', c)).toBe(false);
    expect([...registry.subscribers('ch')!]).toStrictEqual([b]);
    expect(registry.subscriberCount('ch')).toBe(1);
    expect(registry.unsubscribe('ch', c)).toBe(false);
    expect(registry.unsubscribe('ch', b)).toBe(true);
    expect(registry.subscribers('ch')).toBeUndefined();
    expect(registry.subscriberCount('ch')).toBe(0);
    expect(registry.unsubscribe('ch', b)).toBe(false);
    expect(registry.subscribe('ch', c)).toBe(true);
  });
});
