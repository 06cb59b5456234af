import { describe, expect, it } from 'vitest';
import { RealtimeClientError, type RealtimeClient } from '../../../lib/client/index.js';
import { RpcError, RpcService } from '../../../lib/index.js';
import { libraryClient } from '../../support/client.js';
import { appForEachTest, expectAlive, leftovers, userFromQuery } from '../../support/fixtures.js';
import { eventIs } from '../../support/ws-client.js';

const rt = appForEachTest({
  authenticate: userFromQuery,
  rpc: { timeout: 200, maxPendingCalls: 2 },
});
const rpcOf = () => rt.app.app.get(RpcService);

/** A library client, connected, closed after the test. */
async function connectedClient(user: string): Promise<RealtimeClient> {
  const client = libraryClient(rt.harness, rt.app, user);
  await client.ready;
  return client;
}

describe('RPC, client to server', () => {
  it('answers a registered method with its result, knowing who called', async () => {
    rpcOf().register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));
    rpcOf().register('whoami', (_params, { principal, connection }) => ({
      user: principal.userId,
      id: connection.id,
    }));
    const client = await rt.connect('u1');
    expect((await client.request('rt:call', { method: 'sum', params: [1, 2, 3] })).data).toBe(6);
    expect((await client.request('rt:call', { method: 'whoami' })).data).toEqual({
      user: 'u1',
      id: client.connectionId,
    });
  });

  it('answers each failure with its code', async () => {
    rpcOf().register('refuse', () => {
      throw new RpcError('OUT_OF_STOCK', 'none left', { sku: 'x' });
    });
    rpcOf().register('crash', async () => {
      throw new Error('boom');
    });
    rpcOf().register('slow', () => new Promise((resolve) => setTimeout(resolve, 1_000)));
    const client = await rt.connect('u1');
    const error = async (data: unknown) => (await client.request('rt:call', data)).error;
    expect(await error({ method: 'nope' })).toEqual({
      code: 'RPC_UNKNOWN_METHOD',
      message: 'no RPC method "nope"',
    });
    expect(await error({ method: 'refuse' })).toEqual({
      code: 'OUT_OF_STOCK',
      message: 'none left',
      details: { sku: 'x' },
    });
    expect((await error({ method: 'crash' }))?.code).toBe('INTERNAL_ERROR');
    expect((await error({ method: 'slow' }))?.code).toBe('RPC_TIMEOUT');
    expect((await error({ params: 1 }))?.code).toBe('INVALID_DATA');
    expect((await error({ method: 5 }))?.code).toBe('INVALID_DATA');
    expect((await error('sum'))?.code).toBe('INVALID_DATA');
    await expectAlive(client);
  });

  it('refuses a second registration of a name, and unregisters', async () => {
    const off = rpcOf().register('once', () => 1);
    expect(() => rpcOf().register('once', () => 2)).toThrow(/registered already/);
    expect(() => rpcOf().register('', () => 2)).toThrow(/1 to 200/);
    off();
    const client = await rt.connect('u1');
    expect((await client.request('rt:call', { method: 'once' })).error?.code).toBe(
      'RPC_UNKNOWN_METHOD',
    );
  });

  it('works from the library client', async () => {
    rpcOf().register('double', (n) => (n as number) * 2);
    const client = await connectedClient('u1');
    expect(await client.call('double', 21)).toBe(42);
    await expect(client.call('nope')).rejects.toMatchObject({ code: 'RPC_UNKNOWN_METHOD' });
  });
});

describe('RPC, server to client', () => {
  it('resolves with the client answer', async () => {
    const client = await connectedClient('u1');
    client.answer('confirm', (params) => ({ ok: true, asked: params }));
    const id = (await client.ready).connectionId;
    await expect(rpcOf().call(id, 'confirm', { text: 'sure?' })).resolves.toEqual({
      ok: true,
      asked: { text: 'sure?' },
    });
  });

  it('fails with the client error code, or RPC_UNKNOWN_METHOD', async () => {
    const client = await connectedClient('u1');
    client.answer('refuse', () => {
      throw new RealtimeClientError('NOPE', 'not today');
    });
    const { connectionId } = await client.ready;
    const refused = await rpcOf()
      .call(connectionId, 'refuse')
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RpcError);
    expect(refused).toMatchObject({ code: 'NOPE', message: 'not today' });
    await expect(rpcOf().call(connectionId, 'unknown')).rejects.toMatchObject({
      code: 'RPC_UNKNOWN_METHOD',
    });
  });

  it('times out, ignores a late answer, and fails pending calls when the connection goes', async () => {
    const raw = await rt.connect('u1');
    const late = rpcOf().call(raw.connectionId, 'ask');
    const call = await raw.next(eventIs('rt:call'));
    expect(call).toEqual({ event: 'rt:call', id: expect.any(String), data: { method: 'ask' } });
    await expect(late).rejects.toMatchObject({ code: 'RPC_TIMEOUT' });
    raw.send({ event: 'rt:reply', id: call.id, data: 'too late' });
    raw.send({ event: 'rt:reply', id: 'never-sent', data: 1 });
    expect(await leftovers(raw)).toEqual([]); // a reply is never answered
    await expectAlive(raw);

    const pending = rpcOf().call(raw.connectionId, 'ask', undefined, { timeout: 5_000 });
    const failed = pending.catch((error: unknown) => error); // handled before it fails
    await raw.close();
    expect(await failed).toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('bounds the calls a connection has waiting', async () => {
    const raw = await rt.connect('u1');
    const waiting = [rpcOf().call(raw.connectionId, 'a'), rpcOf().call(raw.connectionId, 'b')];
    const timedOut = waiting[1]!.catch((error: unknown) => error); // handled before it fails
    await expect(rpcOf().call(raw.connectionId, 'c')).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
    const [first] = [await raw.next(eventIs('rt:call'))];
    raw.send({ event: 'rt:reply', id: first!.id, data: 'a!' });
    await expect(waiting[0]).resolves.toBe('a!');
    expect(await timedOut).toMatchObject({ code: 'RPC_TIMEOUT' });
  });

  it('refuses a call to a connection that is not open here', async () => {
    await expect(rpcOf().call('nope.1', 'x')).rejects.toMatchObject({ code: 'INVALID_DATA' });
  });
});

describe('regressions', () => {
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
