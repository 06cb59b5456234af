// docs/grpc.md's worked client, as written there, against a real hybrid app.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import { PROTO_LOADER_OPTIONS, REALTIME_PROTO_PATH } from '../../../lib/transports/grpc/index.js';
import { resolveRealtimeOptions } from '../../../lib/index.js';
import { until } from '../../support/fixtures.js';
import { startGrpcApp, type GrpcApp } from '../../support/grpc.js';

describe('docs/grpc.md', () => {
  let app: GrpcApp;
  beforeAll(async () => {
    app = await startGrpcApp({
      history: { maxCount: 100 },
      // The gRPC client sends a header; the WebSocket client, a query parameter.
      authenticate: (request) =>
        request.headers.authorization === 'Bearer my-token' ||
        request.url?.includes('token=my-token')
          ? { userId: 'docs' }
          : null,
    });
  });
  afterAll(() => app.close());

  it('runs the worked client as written', async () => {
    const reloads: unknown[] = [];
    const reloadLobby = () => reloads.push('reload');
    const printed: unknown[] = [];
    const console = { log: (...args: unknown[]) => printed.push(args) };
    const ws = new RealtimeClient(`${app.wsUrl}?token=my-token`, { WebSocket });
    const heard: unknown[] = [];
    (await ws.join('lobby')).on('chat', (data) => heard.push(data));

    // -- as in docs/grpc.md, with the server's address --
    const definition = protoLoader.loadSync(REALTIME_PROTO_PATH, { ...PROTO_LOADER_OPTIONS });
    const { realtime } = grpc.loadPackageDefinition(definition) as any;
    const client = new realtime.v1.Realtime(app.grpcUrl, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer my-token');

    let last: { epoch: string; offset: number } | undefined;
    const subscription = client.Subscribe({ rooms: ['lobby'] }, metadata);
    subscription.on('data', (event: any) => {
      if (event.event === 'rt:resync') reloadLobby();
      if (event.room === 'lobby') last = { epoch: event.epoch, offset: event.offset };
      if (event.event === 'chat') console.log(JSON.parse(event.data).text);
    });
    subscription.on('error', () => undefined); // the cancel below
    let joined = false;
    subscription.on('data', (event: any) => (joined ||= event.event === 'rt:joined'));
    await until(() => joined);

    client.Publish(
      { room: 'lobby', event: 'chat', data: JSON.stringify({ text: 'hello from gRPC' }) },
      metadata,
      (error: grpc.ServiceError | null, reply: { offset: number }) =>
        console.log(error ?? reply.offset),
    );
    await until(() => printed.length === 2);
    expect(printed).toContainEqual(['hello from gRPC']);
    expect(printed).toContainEqual([1]);
    await until(() => heard.length === 1);
    expect(heard).toEqual([{ text: 'hello from gRPC' }]);

    subscription.cancel();
    await ws.publish('lobby', 'chat', { text: 'while away' }, { echo: true });
    const since = last ? [{ room: 'lobby', ...last }] : [];
    const resumed = client.Subscribe({ rooms: ['lobby'], since }, metadata);
    const again: any[] = [];
    resumed.on('data', (event: any) => again.push(event));
    await until(() => again.some((e) => e.event === 'rt:joined'));
    expect(again[0]).toMatchObject({ event: 'chat', data: '{"text":"while away"}', offset: 2 });
    expect(reloads).toEqual([]);
    resumed.cancel();
    resumed.on('error', () => undefined);
    client.close();
    await ws.close();
  });

  it.each([
    [{ grpc: {} }, 'grpc.url'],
    [{ grpc: { url: 'nohost' } }, 'grpc.url'],
    [{ grpc: { url: 'host:port' } }, 'grpc.url'],
    [{ grpc: { url: 'h:1', maxBufferedBytes: 0 } }, 'grpc.maxBufferedBytes'],
    [{ grpc: { url: 'h:1', other: 1 } }, 'grpc.other'],
  ])('refuses the option %j naming %s', (given, option) => {
    expect(() => resolveRealtimeOptions(given as never)).toThrow(`"${option}"`);
  });
});
