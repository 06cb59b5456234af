// The page's live panel (an EventSource) outlives its token: when the stream ends with
// the token, the page comes back with a new one from its last event, and the panel
// misses nothing.
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import { chromiumAvailable, openChat, sampleForAllTests } from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(chromiumAvailable())('the sample page: the live panel', () => {
  // Tokens last two seconds: the page renews them (WebSocket: 4401; SSE: a new stream).
  const sample = sampleForAllTests({ TOKEN_TTL: '2' });
  const harness = withHarness();

  it('resumes its stream with a new token, from its last event, and misses nothing', async () => {
    const { browser, app } = sample;
    const chat = await openChat(browser, app, 'liv');
    harness.defer(() => chat.close());
    // The page's own streams: it opens a new one each time its token ran out.
    let streams = 0;
    chat.page.on('request', (request) => {
      if (request.url().includes('/realtime/events?')) streams++;
    });
    const ids: string[] = [];
    const nia = new RealtimeClient(
      async () => {
        const { token } = await (await fetch(`${app.url}/token?name=nia`)).json();
        ids.push(token);
        return `ws://127.0.0.1:${app.port}/ws?token=${token}`;
      },
      { WebSocket },
    );
    harness.defer(() => nia.close());
    await nia.subscribe('lobby').ready;
    for (let n = 1; n <= 12; n++) {
      await nia.request('chat', { room: 'lobby', text: `tick ${n}` });
      await sleep(500); // six seconds: the page's tokens expire twice or thrice
    }
    const expected = Array.from({ length: 12 }, (_, i) => `nia: tick ${i + 1}`);
    await expect
      .poll(
        () =>
          chat.page.evaluate(() =>
            [...document.querySelectorAll('#activity li')].map((li) => li.textContent),
          ),
        { timeout: 15_000 },
      )
      .toEqual(expected);
    expect(streams).toBeGreaterThanOrEqual(2); // the page renewed its stream's token
    expect(ids.length).toBeGreaterThanOrEqual(3); // and the Node client its own
    expect(chat.errors).toEqual([]);
  }, 40_000);
});
