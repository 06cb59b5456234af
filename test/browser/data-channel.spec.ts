// A data channel from a page (Chromium's RTCPeerConnection, the library's browser
// bundle) to the server's peer: it joins a room like any connection, and carries
// messages both ways with a Node client of the same server.
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import {
  BROWSER_TEST_TIMEOUT,
  chromiumAvailable,
  PATIENCE,
  sampleForAllTests,
  sampleToken,
} from '../support/browser.js';
import { until, withHarness } from '../support/fixtures.js';

describe.runIf(chromiumAvailable())('the sample page: a data channel to the server', () => {
  const sample = sampleForAllTests();
  const harness = withHarness();

  it(
    'carries room messages both ways between the page and a Node client',
    async () => {
      const { browser, app } = sample;
      const context = await browser.newContext();
      harness.defer(() => context.close());
      const page = await context.newPage();
      await page.goto(`${app.url}/`);
      // In the page: the library's client, a room, and a data channel to the server's peer.
      // (As text: the test runner would rewrite a dynamic import in a function.)
      await page.evaluate(`(async () => {
      const { RealtimeClient, RoomCall } = await import('/nest-realtime/browser/nest-realtime-client.js');
      const client = new RealtimeClient(async () => {
        const { token } = await (await fetch('/token?name=dee')).json();
        return 'ws://' + location.host + '/ws?token=' + token;
      });
      await client.subscribe('game').ready;
      const call = new RoomCall(client, 'game');
      const pc = await call.connectServer();
      const channel = pc.createDataChannel('rt');
      const received = [];
      Object.assign(window, { channel, received });
      channel.onmessage = ({ data }) => received.push(JSON.parse(data));
      await new Promise((resolve) => (channel.onopen = resolve));
      channel.send(JSON.stringify({ event: 'rt:join', data: { room: 'game' }, id: 1 }));
    })()`);
      const received = () =>
        page.evaluate(() => (window as unknown as { received: any[] }).received);
      await expect
        .poll(async () => (await received()).find((f) => f.id === 1)?.data?.name, {
          timeout: PATIENCE,
        })
        .toBe('game');

      const node = new RealtimeClient(
        `ws://127.0.0.1:${app.port}/ws?token=${await sampleToken(app, 'nod')}`,
        { WebSocket },
      );
      harness.defer(() => node.close());
      const room = await node.subscribe('game').ready;
      const heard: unknown[] = [];
      room.on('move', (data) => heard.push(data));
      // Node to page, over the channel.
      await node.publish('game', 'move', { from: 'node' });
      await expect
        .poll(async () => (await received()).find((f) => f.event === 'move')?.data, {
          timeout: PATIENCE,
        })
        .toEqual({ from: 'node' });
      // Page to node, over the channel.
      await page.evaluate(() =>
        (window as unknown as { channel: RTCDataChannel }).channel.send(
          JSON.stringify({
            event: 'rt:publish',
            data: { room: 'game', event: 'move', data: { from: 'page' } },
            id: 2,
          }),
        ),
      );
      await until(() => heard.length === 1, PATIENCE);
      expect(heard).toEqual([{ from: 'page' }]);
    },
    BROWSER_TEST_TIMEOUT,
  );
});
