// The authorize hooks over gRPC, as on every transport: a room the hook refuses cannot
// be subscribed to (PERMISSION_DENIED), nor joined in a session (FORBIDDEN reply).
import { describe, expect, it } from 'vitest';
import { until, withHarness } from '../../support/fixtures.js';
import { collect, grpc, startGrpcApp, type GrpcApp } from '../../support/grpc.js';

const harness = withHarness();

/** An app whose vault only the boss may join (users come in the `user` metadata). */
async function vaultApp(): Promise<GrpcApp> {
  const app = await startGrpcApp({
    authenticate: (request) => ({ userId: String(request.headers.user ?? 'anon') }),
    authorize: { canJoin: (principal, room) => room !== 'vault' || principal.userId === 'boss' },
  });
  harness.track(app);
  return app;
}

describe('authorize over gRPC', () => {
  it('refuses a Publish and a PublishStream message to a room canJoin refuses, as a non-member would be', async () => {
    const app = await vaultApp();
    const eve = app.realtime({ user: 'eve' });
    harness.defer(() => eve.close());
    const refused = await eve.unary('Publish', { room: 'vault', event: 'x', data: '1' }).then(
      () => 'OK',
      (error: grpc.ServiceError) => error.code,
    );
    expect(refused).toBe(grpc.status.PERMISSION_DENIED);
    const summary = await new Promise<any>((resolve, reject) => {
      const call = eve.raw.PublishStream(eve.metadata, (error: Error | null, reply: any) =>
        error ? reject(error) : resolve(reply),
      );
      call.write({ room: 'vault', event: 'x', data: '2' });
      call.write({ room: 'lobby', event: 'x', data: '3' });
      call.end();
    });
    expect(summary).toMatchObject({ count: 1, rejected: [{ index: 0, code: 'FORBIDDEN' }] });

    const boss = app.realtime({ user: 'boss' });
    harness.defer(() => boss.close());
    // One who may join may publish: the first message the vault ever got (eve's never went in).
    expect(await boss.unary('Publish', { room: 'vault', event: 'x', data: '4' })).toMatchObject({
      room: 'vault',
      offset: 1,
    });
  });

  it('refuses a Subscribe and a session join of a room canJoin refuses', async () => {
    const app = await vaultApp();
    const client = app.realtime({ user: 'eve' });
    harness.defer(() => client.close());
    const refused = collect(client.raw.Subscribe({ rooms: ['lobby', 'vault'] }, client.metadata));
    await until(
      () => refused.ended.status !== undefined || refused.ended.error !== undefined,
      5_000,
    );
    expect((refused.ended.error ?? refused.ended.status)!.code).toBe(grpc.status.PERMISSION_DENIED);

    const call = client.raw.Session(client.metadata);
    harness.defer(() => call.cancel());
    const session = collect(call);
    call.write({ id: 'j1', join: { room: 'vault' } });
    call.write({ id: 'j2', join: { room: 'lobby' } });
    await until(() => session.messages.filter((m) => m.reply).length === 2, 5_000);
    const replies = session.messages.filter((m) => m.reply).map((m) => m.reply);
    expect(replies[0]).toMatchObject({ id: 'j1', code: 'FORBIDDEN' });
    expect(replies[1]).toMatchObject({ id: 'j2', code: '' });

    const boss = app.realtime({ user: 'boss' });
    harness.defer(() => boss.close());
    const allowed = collect(boss.raw.Subscribe({ rooms: ['vault'] }, boss.metadata));
    await until(() => allowed.messages.length > 0, 5_000); // rt:joined
    expect(allowed.ended.error).toBeUndefined();
  });
});
