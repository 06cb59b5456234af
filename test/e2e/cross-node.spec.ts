// Hub calls that reach other nodes' connections: two apps on one engine store.
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../lib/index.js';
import { expectAlive, join, until, userFromQuery, withHarness } from '../support/fixtures.js';

describe('hub calls across nodes', () => {
  const harness = withHarness();
  let cluster = 0;
  const nodes = async () => {
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'memory', shared: `cross-${process.pid}-${++cluster}` },
    };
    return [await harness.start(options), await harness.start(options)] as const;
  };

  it('disconnect(id) closes a connection of another node with 4500', async () => {
    const [a, b] = await nodes();
    const client = await harness.connect(`${a.wsUrl}?user=u1`);
    b.hub.disconnect(client.connectionId, 'kicked elsewhere');
    expect(await client.closed).toBe(4500);
    await until(() => a.hub.connections.count() === 0);
  });

  it("disconnectUser closes the user's connections on every node", async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=mallory`);
    const onB = await harness.connect(`${b.wsUrl}?user=mallory`);
    const other = await harness.connect(`${a.wsUrl}?user=trent`);
    b.hub.disconnectUser('mallory');
    expect(await Promise.all([onA.closed, onB.closed])).toEqual([4500, 4500]);
    await expectAlive(other);
  });

  it("deleteRoom makes the room's members on every node leave it", async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=u1`);
    const onB = await harness.connect(`${b.wsUrl}?user=u2`);
    await join(onA, 'doomed');
    await join(onB, 'doomed');
    expect(await b.hub.roomInfo('doomed')).toMatchObject({ size: 2 });
    expect(await b.hub.deleteRoom('doomed')).toBe(true);
    await until(() => a.hub.connectionRooms(onA.connectionId).length === 0);
    expect(await a.hub.roomInfo('doomed')).toBeUndefined();
    // A message to the room reaches neither.
    await a.hub.to('doomed').emit('late', 1);
    expect(await onA.collect((f) => f.event === 'late')).toEqual([]);
    expect(await onB.collect((f) => f.event === 'late')).toEqual([]);
  });
});
