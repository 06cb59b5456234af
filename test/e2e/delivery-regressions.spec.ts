import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import { DeliveryService, RpcService, type Undeliverable } from '../../lib/index.js';
import { appForEachTest, join, until, userFromQuery } from '../support/fixtures.js';
import { eventIs, TestClient } from '../support/ws-client.js';

// Regressions found by review: each test fails on the code before its fix.

const rt = appForEachTest({
  authenticate: userFromQuery,
  delivery: { ackTimeout: 200, maxAttempts: 3, ttl: 5_000 },
  rpc: { timeout: 500, maxPendingCalls: 2 },
});
const deliveryOf = () => rt.app.app.get(DeliveryService);

function failures(): Undeliverable[] {
  const failed: Undeliverable[] = [];
  rt.harness.defer(deliveryOf().onUndeliverable((f) => failed.push(f)));
  return failed;
}

describe('delivery', () => {
  it('sends waiting messages after rt:connected, never before', async () => {
    await deliveryOf().send({ userId: 'zed' }, 'invoice', 1);
    const client = await TestClient.open(`${rt.app.wsUrl}?user=zed`);
    rt.harness.defer(() => client.close());
    const first = await client.next();
    const second = await client.next();
    expect([first.event, second.event]).toEqual(['rt:connected', 'invoice']);
  });

  it('does not spend attempts when the user opens more connections', async () => {
    const failed = failures();
    await rt.connect('yan');
    await deliveryOf().send({ userId: 'yan' }, 'invoice', 1);
    const tabs = [await rt.connect('yan'), await rt.connect('yan'), await rt.connect('yan')];
    for (const tab of tabs) expect((await tab.next(eventIs('invoice'))).data).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(failed).toEqual([]);
  });

  it('keeps a long time to live for an absent user (longer than a timer can wait)', async () => {
    const failed = failures();
    await deliveryOf().send({ userId: 'away' }, 'invoice', 1, { ttl: 30 * 24 * 3_600_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(failed).toEqual([]);
  });

  it('the library client acknowledges only what a listener took', async () => {
    const client = new RealtimeClient(`${rt.app.wsUrl}?user=xia`, { WebSocket });
    rt.harness.defer(() => client.close());
    await client.ready;
    await deliveryOf().send({ userId: 'xia' }, 'invoice', 'late listener');
    await new Promise((resolve) => setTimeout(resolve, 50)); // it came, nobody took it
    const seen: unknown[] = [];
    client.on('invoice', (data) => seen.push(data));
    await until(() => seen.length === 1, 2_000); // it came again, and was taken
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen).toEqual(['late listener']);
  });
});

describe('recovery', () => {
  it('a member re-joining with a stale since keeps getting live messages', async () => {
    const member = await rt.connect('m');
    await join(member, 'r1');
    const connection = rt.hub.connections.get(member.connectionId)!;
    const joining = rt.hub.join(connection, 'r1', { since: { epoch: 'stale', offset: 0 } });
    await rt.hub.to('r1').emit('x', 1);
    expect(await joining).toMatchObject({ recovered: false });
    expect((await member.next(eventIs('x'))).data).toBe(1);
  });

  it('a join that cannot recover still passes on the live messages that came meanwhile', async () => {
    const other = await rt.connect('o');
    await join(other, 'r2');
    const late = await rt.connect('l');
    const connection = rt.hub.connections.get(late.connectionId)!;
    const joining = rt.hub.join(connection, 'r2', { since: { epoch: 'stale', offset: 0 } });
    await rt.hub.to('r2').emit('x', 2);
    expect(await joining).toMatchObject({ recovered: false });
    expect((await late.next(eventIs('x'))).data).toBe(2);
  });
});

describe('rpc', () => {
  it('a call whose params are not JSON fails at once and holds no slot', async () => {
    const client = await rt.connect('r');
    const rpc = rt.app.app.get(RpcService);
    await expect(rpc.call(client.connectionId, 'm', { n: 1n })).rejects.toMatchObject({
      code: 'INVALID_DATA',
    });
    const both = [rpc.call(client.connectionId, 'a'), rpc.call(client.connectionId, 'b')];
    const calls = [await client.next(eventIs('rt:call')), await client.next(eventIs('rt:call'))];
    for (const call of calls)
      client.send({ event: 'rt:reply', id: call.id, data: null, error: null });
    await expect(Promise.all(both)).resolves.toEqual([null, null]);
  });
});
