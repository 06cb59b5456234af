// The built-in events (rt:join, rt:publish...) go through Nest's pipeline as the app's
// own @SubscribeMessage handlers do: global guards refuse them, global interceptors
// see them and their replies, global pipes see their data. Over Express and Fastify.
import {
  Injectable,
  type ArgumentMetadata,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { tap, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { RealtimeConnection } from '../../../lib/index.js';
import { PLATFORMS, usePlatform, type TestApp } from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { eventIs } from '../../support/ws-client.js';

/** Refuses `rt:join` to a room named `vault` unless the user is `ada`. */
@Injectable()
class VaultGuard implements CanActivate {
  readonly seen: string[] = [];

  canActivate(context: ExecutionContext): boolean {
    const ws = context.switchToWs();
    const event = ws.getPattern();
    this.seen.push(event);
    const { room } = (ws.getData() ?? {}) as { room?: string };
    return !(
      event === 'rt:join' &&
      room === 'vault' &&
      ws.getClient<RealtimeConnection>().userId !== 'ada'
    );
  }
}

/** Records every built-in frame it wraps, and the reply it answers with. */
@Injectable()
class Recorder implements NestInterceptor {
  readonly calls: { event: string; user: string | undefined; data: unknown; reply?: unknown }[] =
    [];

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ws = context.switchToWs();
    const call = {
      event: ws.getPattern(),
      user: ws.getClient<RealtimeConnection>().userId,
      data: ws.getData(),
      reply: undefined as unknown,
    };
    this.calls.push(call);
    return next.handle().pipe(tap((reply) => (call.reply = reply)));
  }
}

/** Refuses any payload that says "swear", with a code of the app's own. */
@Injectable()
class NoSwearing implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && JSON.stringify(value ?? null).includes('swear')) {
      throw new WsException({ code: 'NO_SWEARING', message: 'mind your language' });
    }
    return value;
  }
}

@WebSocketGateway()
class ChatGateway {
  @SubscribeMessage('say')
  say() {
    return { said: true };
  }
}

/** The rooms a connection of `app` is in. */
function roomsOf(app: TestApp, connectionId: string): string[] {
  return [...(app.hub.connections.get(connectionId)?.rooms ?? [])];
}

describe.each(PLATFORMS)('built-in events in the Nest pipeline, over %s', (platform) => {
  usePlatform(platform);
  const harness = withHarness();

  async function start() {
    const guard = new VaultGuard();
    const recorder = new Recorder();
    const app = await harness.start(
      { authenticate: userFromQuery },
      { providers: [ChatGateway] },
      {
        configure: (nest) => {
          nest.setGlobalPrefix('api');
          nest.useGlobalGuards(guard);
          nest.useGlobalInterceptors(recorder);
          nest.useGlobalPipes(new NoSwearing());
        },
      },
    );
    return { app, guard, recorder };
  }

  it('a global guard refuses rt:join with FORBIDDEN, and lets the rest through', async () => {
    const { app, guard } = await start();
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    const ada = await harness.connect(`${app.wsUrl}?user=ada`);
    expect((await bob.request('rt:join', { room: 'vault' })).error).toEqual({
      code: 'FORBIDDEN',
      message: 'Forbidden resource',
    });
    expect((await ada.request('rt:join', { room: 'vault' })).data).toMatchObject({ name: 'vault' });
    expect((await bob.request('rt:join', { room: 'lobby' })).data).toMatchObject({ name: 'lobby' });
    // Refused, bob is not in the vault: ada's message there does not reach him.
    await ada.request('rt:publish', { room: 'vault', event: 'secret', data: 1 });
    expect(await bob.collect(eventIs('secret'))).toEqual([]);
    expect(roomsOf(app, bob.connectionId)).toEqual(['lobby']);
    // The guard saw built-in events and the app's own alike.
    expect((await bob.request('say')).data).toEqual({ said: true });
    expect(guard.seen).toEqual(expect.arrayContaining(['rt:join', 'rt:publish', 'say']));
  });

  it('a global interceptor sees rt:publish, its user, its data and its reply', async () => {
    const { app, recorder } = await start();
    const ada = await harness.connect(`${app.wsUrl}?user=ada`);
    await ada.request('rt:join', { room: 'lobby' });
    const reply = await ada.request('rt:publish', { room: 'lobby', event: 'chat', data: 'hi' });
    const publish = recorder.calls.find((c) => c.event === 'rt:publish');
    expect(publish).toEqual({
      event: 'rt:publish',
      user: 'ada',
      data: { room: 'lobby', event: 'chat', data: 'hi' },
      reply: reply.data,
    });
    // rt:pong is the protocol's bookkeeping and does not pass through it.
    ada.send({ event: 'rt:pong' });
    await ada.request('rt:room', { room: 'lobby' });
    expect(recorder.calls.map((c) => c.event)).not.toContain('rt:pong');
  });

  it('a global pipe sees the data of built-in events, and its refusal is the answer', async () => {
    const { app } = await start();
    const ada = await harness.connect(`${app.wsUrl}?user=ada`);
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    await ada.request('rt:join', { room: 'lobby' });
    await bob.request('rt:join', { room: 'lobby' });
    const refused = await ada.request('rt:publish', {
      room: 'lobby',
      event: 'chat',
      data: 'swear',
    });
    expect(refused.error).toMatchObject({ code: 'NO_SWEARING', message: 'mind your language' });
    await ada.request('rt:publish', { room: 'lobby', event: 'chat', data: 'kind words' });
    expect((await bob.next(eventIs('chat'))).data).toBe('kind words');
    expect(await bob.collect(eventIs('chat'))).toEqual([]);
  });

  it('a frame without an id gets no reply, a refused one an rt:error', async () => {
    const { app } = await start();
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    bob.send({ event: 'rt:join', data: { room: 'lobby' } });
    bob.send({ event: 'rt:join', data: { room: 'vault' } });
    const error = await bob.next(eventIs('rt:error'));
    expect(error.data).toMatchObject({ code: 'FORBIDDEN', event: 'rt:join' });
    expect(await bob.collect((f) => f.event === 'rt:reply')).toEqual([]);
    expect(roomsOf(app, bob.connectionId)).toEqual(['lobby']);
  });
});

describe('reserved built-in events', () => {
  const harness = withHarness();

  it("fails the start when an app's gateway handles an rt: event", async () => {
    @WebSocketGateway()
    class Shadowing {
      @SubscribeMessage('rt:join')
      join() {
        return 'mine';
      }
    }
    await expect(harness.start({}, { providers: [Shadowing] })).rejects.toThrow(
      /Shadowing\.join handles "rt:join".*the module's own/,
    );
  });
});
