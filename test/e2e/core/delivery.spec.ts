import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import { DeliveryService, type Undeliverable } from '../../../lib/index.js';
import { expectAlive, leftovers, until, userFromQuery } from '../../support/fixtures.js';
import { ENGINES, engineFixture, type EngineFixture } from '../../support/engines.js';
import { eventIs, TestClient, type Frame } from '../../support/ws-client.js';

const isInvoice = (frame: Frame) => frame.event === 'invoice';

describe.each(ENGINES)('on $name', (engine) => {
  const rt = engineFixture(engine, {
    authenticate: userFromQuery,
    delivery: { ackTimeout: 50, maxBackoff: 200, maxAttempts: 4, ttl: 5_000, maxPendingPerUser: 2 },
  });
  // Sent from the node of the user's connections (on two nodes, the other node shares its
  // store): redelivery from another node is test/e2e/cluster/cross-node's.
  const deliveryOf = (fixture: EngineFixture = rt) => fixture.app.app.get(DeliveryService);

  /** Everything given up on during the test. */
  function failures(fixture: EngineFixture = rt): Undeliverable[] {
    const failed: Undeliverable[] = [];
    fixture.harness.defer(deliveryOf(fixture).onUndeliverable((f) => failed.push(f)));
    return failed;
  }

  describe('acknowledged delivery', () => {
    it('sends again, with the same id, until the client acknowledges', async () => {
      const failed = failures();
      const client = await rt.connect('alice');
      const id = await deliveryOf().send({ userId: 'alice' }, 'invoice', { total: 42 });
      const first = await client.next(isInvoice);
      expect(first).toEqual({ event: 'invoice', data: { total: 42 }, ack: id });
      const second = await client.next(isInvoice, 1_000); // ignored the first
      const third = await client.next(isInvoice, 1_000); // and the second
      expect([second.ack, third.ack]).toEqual([id, id]);
      client.send({ event: 'rt:ack', data: { id } });
      expect((await leftovers(client, 400)).filter(isInvoice)).toEqual([]);
      expect(failed).toEqual([]);
    });

    it('reports a message never acknowledged after maxAttempts sends', async () => {
      const failed = failures();
      const client = await rt.connect('bob');
      const id = await deliveryOf().send({ userId: 'bob' }, 'invoice', 1, { maxAttempts: 2 });
      await until(() => failed.length === 1, 2_000);
      expect(failed).toEqual([
        {
          id,
          event: 'invoice',
          data: 1,
          userId: 'bob',
          connectionId: undefined,
          reason: 'attempts',
          attempts: 2,
        },
      ]);
      expect((await leftovers(client, 0)).filter(isInvoice)).toHaveLength(2);
    });

    it('keeps a message for a user who is away, delivers it when they come, or reports it expired', async () => {
      const failed = failures();
      const waiting = await deliveryOf().send({ userId: 'carol' }, 'invoice', 'later');
      const lost = await deliveryOf().send({ userId: 'dave' }, 'invoice', 'never', { ttl: 150 });
      const carol = await rt.connect('carol');
      const frame = await carol.next(isInvoice);
      expect(frame.ack).toBe(waiting);
      carol.send({ event: 'rt:ack', data: { id: waiting } });
      await until(() => failed.length === 1, 2_000);
      expect(failed[0]).toMatchObject({ id: lost, userId: 'dave', reason: 'expired', attempts: 0 });
    });

    it('reports a message for one connection when it closes', async () => {
      const failed = failures();
      const client = await rt.connect('erin');
      const connection = rt.hub.connections.get(client.connectionId)!;
      const id = await deliveryOf().send(connection, 'invoice', 3);
      await client.next(isInvoice);
      await client.close();
      await until(() => failed.length === 1, 2_000);
      expect(failed[0]).toMatchObject({ id, connectionId: connection.id, reason: 'disconnected' });
    });

    it('bounds what waits for one user', async () => {
      await deliveryOf().send({ userId: 'frank' }, 'invoice', 1);
      await deliveryOf().send({ userId: 'frank' }, 'invoice', 2);
      await expect(deliveryOf().send({ userId: 'frank' }, 'invoice', 3)).rejects.toMatchObject({
        code: 'QUEUE_FULL',
      });
      await expect(deliveryOf().send({ userId: 'gina' }, 'invoice', 1)).resolves.toEqual(
        expect.any(String),
      );
    });

    it('is acknowledged by the library client, which hands each message over once', async () => {
      const failed = failures();
      const client = new RealtimeClient(`${rt.app.wsUrl}?user=hal`, { WebSocket });
      rt.harness.defer(() => client.close());
      await client.ready;
      const seen: unknown[] = [];
      client.on('invoice', (data) => seen.push(data));
      await deliveryOf().send({ userId: 'hal' }, 'invoice', 'once');
      await until(() => seen.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 300)); // past two resends, had it not been acked
      expect(seen).toEqual(['once']);
      expect(failed).toEqual([]);
    });

    it('ignores acks of unknown ids and refuses bad ones', async () => {
      const client = await rt.connect('ivy');
      expect((await client.request('rt:ack', { id: 'nope' })).data).toBeNull();
      expect((await client.request('rt:ack', 'nope')).error?.code).toBe('INVALID_DATA');
      await expectAlive(client);
    });
  });

  describe('regressions', () => {
    // Slower acknowledgements than the suite's: no attempt runs out while a test looks.
    const patient = engineFixture(engine, {
      authenticate: userFromQuery,
      delivery: { ackTimeout: 200, maxAttempts: 3, ttl: 5_000 },
    });

    it('sends waiting messages after rt:connected, never before', async () => {
      await deliveryOf(patient).send({ userId: 'zed' }, 'invoice', 1);
      const client = await TestClient.open(`${patient.app.wsUrl}?user=zed`);
      patient.harness.defer(() => client.close());
      const first = await client.next();
      const second = await client.next();
      expect([first.event, second.event]).toEqual(['rt:connected', 'invoice']);
    });

    it('does not spend attempts when the user opens more connections', async () => {
      const failed = failures(patient);
      await patient.connect('yan');
      await deliveryOf(patient).send({ userId: 'yan' }, 'invoice', 1);
      const tabs = [
        await patient.connect('yan'),
        await patient.connect('yan'),
        await patient.connect('yan'),
      ];
      for (const tab of tabs) expect((await tab.next(eventIs('invoice'))).data).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(failed).toEqual([]);
    });

    it('keeps a long time to live for an absent user (longer than a timer can wait)', async () => {
      const failed = failures(patient);
      await deliveryOf(patient).send({ userId: 'away' }, 'invoice', 1, {
        ttl: 30 * 24 * 3_600_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(failed).toEqual([]);
    });

    it('the library client acknowledges only what a listener took', async () => {
      const client = new RealtimeClient(`${patient.app.wsUrl}?user=xia`, { WebSocket });
      patient.harness.defer(() => client.close());
      await client.ready;
      await deliveryOf(patient).send({ userId: 'xia' }, 'invoice', 'late listener');
      await new Promise((resolve) => setTimeout(resolve, 50)); // it came, nobody took it
      const seen: unknown[] = [];
      client.on('invoice', (data) => seen.push(data));
      await until(() => seen.length === 1, 2_000); // it came again, and was taken
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(seen).toEqual(['late listener']);
    });
  });
});
