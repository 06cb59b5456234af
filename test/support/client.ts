import type { RealtimeClient } from '../../lib/client/index.js';

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
