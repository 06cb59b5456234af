import { WebSocket } from 'ws';
import { RealtimeClient, type RoomInfo } from '../../lib/client/index.js';
import type { Harness } from './fixtures.js';

/**
 * Resolves when the client is connected again after losing its connection. Made
 * before the loss, so that a reconnect faster than any polling is not missed.
 */
export function reconnected(client: RealtimeClient<any>): Promise<void> {
  return new Promise((resolve) => {
    let lost = false;
    const off = client.onState((state) => {
      if (state === 'reconnecting') lost = true;
      else if (state === 'connected' && lost) {
        off();
        resolve();
      }
    });
  });
}

/** The library's client as `user` of an app (`?user=`), closed at the harness's cleanup. */
export function libraryClient(
  harness: Harness,
  app: { readonly wsUrl: string },
  user: string,
): RealtimeClient {
  const client = new RealtimeClient(`${app.wsUrl}?user=${user}`, { WebSocket });
  harness.defer(() => client.close());
  return client;
}

/** A client of `node` reading room `feed` with recovery: what it saw, and its resyncs. */
export async function feedReader(harness: Harness, node: { readonly wsUrl: string }, user: string) {
  const client = libraryClient(harness, node, user);
  const room = await client.subscribe('feed', { recover: true }).ready;
  const seen: number[] = [];
  const resyncs: RoomInfo[] = [];
  room.on('tick', (n) => seen.push(n as number));
  room.onResync((info) => resyncs.push(info));
  return { client, seen, resyncs };
}
