// Compile-time checks of the typed client (`npm run typecheck` fails on a wrong
// line; a @ts-expect-error that no longer errs fails too), run as a test as well.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { PresenceState } from './client-types.js';
import { RealtimeClient } from './realtime-client.js';

interface ChatSchema {
  events: { chat: { from: string; text: string } };
  requests: { send: { data: { text: string }; result: { id: number } } };
  calls: { sum: { params: number[]; result: number } };
  answers: { confirm: { params: { text: string }; result: boolean } };
}

// Never run: only compiled.
function typed(client: RealtimeClient<ChatSchema>): void {
  client.on('chat', (message) =>
    expectTypeOf(message).toEqualTypeOf<{ from: string; text: string }>(),
  );
  client.on('rt:presence', (state) => expectTypeOf(state).toEqualTypeOf<PresenceState>());
  // @ts-expect-error an event the schema does not name
  client.on('chta', () => undefined);
  expectTypeOf(client.request('send', { text: 'hi' })).resolves.toEqualTypeOf<{ id: number }>();
  // @ts-expect-error data of the wrong shape
  void client.request('send', { txt: 'hi' });
  expectTypeOf(client.call('sum', [1, 2])).resolves.toEqualTypeOf<number>();
  // @ts-expect-error params of the wrong type
  void client.call('sum', 'one');
  client.answer('confirm', ({ text }) => text.length > 0);
  // @ts-expect-error an answer of the wrong type
  client.answer('confirm', () => 'yes');
  void client
    .join('room')
    .then((room) => room.on('chat', (message) => expectTypeOf(message.text).toBeString()));
  void client.publish('room', 'chat', { from: 'a', text: 'b' });
  // @ts-expect-error a payload of the wrong shape
  void client.publish('room', 'chat', { body: 'b' });
}

function untyped(client: RealtimeClient): void {
  client.on('anything', (data) => expectTypeOf(data).toBeAny());
  expectTypeOf(client.request('anything', 42)).resolves.toBeAny();
  void client.call('whatever', { any: 'params' });
}

describe('the typed client', () => {
  it('compiles the typed and untyped uses above', () => {
    expectTypeOf(typed).toBeFunction();
    expectTypeOf(untyped).toBeFunction();
  });

  it('keeps in the declarations every type they name (stripInternal drops what is @internal)', () => {
    const folder = new URL('./', import.meta.url);
    const exported =
      /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export (?:type|interface|const|function|class) (\w+)/g;
    const stripped = readdirSync(folder)
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'))
      .flatMap((name) =>
        [...readFileSync(new URL(name, folder), 'utf8').matchAll(exported)]
          .filter(([, doc]) => doc!.includes('@internal'))
          .map(([, , symbol]) => `${name}: ${symbol}`),
      );
    expect(stripped).toEqual([]);
  });
});
