// The page's live panel (an EventSource) outlives its token: when the stream ends with
// the token, the page comes back with a new one from its last event, and the panel
// misses nothing.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import {
  activity,
  BROWSER_TEST_TIMEOUT,
  chromiumAvailable,
  joinWithForm,
  launchBrowser,
  openChat,
  PATIENCE,
  sampleClient,
  sampleForAllTests,
  startSample,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(chromiumAvailable())('the sample page: the live panel', () => {
  // Tokens last two seconds: the page renews them (WebSocket: 4401; SSE: a new stream).
  const sample = sampleForAllTests({ TOKEN_TTL: '2' });
  const harness = withHarness();

  it(
    'resumes its stream with a new token, from its last event, and misses nothing',
    async () => {
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
      const lobby = await nia.subscribe('lobby').ready;
      const start = lobby.position!.offset;
      /**
       * Sends tick n once. nia's token expires too: a request sent as its connection is
       * closed for that (4401) gets no reply, and may or may not have been published. The
       * next request goes after the room's re-join on the new connection (a connection's
       * frames take effect in order), whose reply says how far the room is: published, or
       * sent again.
       */
      const tick = async (n: number): Promise<void> => {
        try {
          await nia.request('chat', { room: 'lobby', text: `tick ${n}` });
        } catch (error) {
          if ((error as { code?: string }).code !== 'CONNECTION_LOST') throw error;
          await nia.request('rt:room', { room: 'lobby' });
          if (lobby.position!.offset - start < n) await tick(n);
        }
      };
      for (let n = 1; n <= 12; n++) {
        await tick(n);
        await sleep(500); // six seconds: the page's tokens expire twice or thrice
      }
      const expected = Array.from({ length: 12 }, (_, i) => `nia: tick ${i + 1}`);
      await expect
        .poll(
          () =>
            chat.page.evaluate(() =>
              [...document.querySelectorAll('#activity li')].map((li) => li.textContent),
            ),
          { timeout: PATIENCE },
        )
        .toEqual(expected);
      expect(streams).toBeGreaterThanOrEqual(2); // the page renewed its stream's token
      expect(ids.length).toBeGreaterThanOrEqual(3); // and the Node client its own
      expect(chat.errors).toEqual([]);
    },
    BROWSER_TEST_TIMEOUT,
  );
});

describe('regressions', () => {
  describe.runIf(chromiumAvailable())('review of the sample page', () => {
    const sample = sampleForAllTests();
    const harness = withHarness();

    it('a join that fails leaves no live panel of the room it came from', async () => {
      const { browser, app } = sample;
      const chat = await openChat(browser, app, 'fja', 'stale-a');
      harness.defer(() => chat.close());
      // A room the server refuses (reserved prefix): the page says it could not join.
      await chat.page.fill('#room', 'rt:nope');
      await chat.page.click('#connect button');
      await chat.page.waitForFunction(() =>
        [...document.querySelectorAll('#log li')].some((li) =>
          li.textContent?.startsWith('could not join'),
        ),
      );
      const nia = sampleClient(app, 'nia');
      harness.defer(() => nia.close());
      await nia.subscribe('stale-a').ready;
      await nia.request('chat', { room: 'stale-a', text: 'still here?' });
      await sleep(1_000);
      expect(await activity(chat.page)).toEqual([]);
    });
  });

  describe.runIf(chromiumAvailable())('review of the sample page: losing the server', () => {
    let browser: Browser;
    const harness = withHarness();
    beforeAll(async () => {
      browser = await launchBrowser();
    }, BROWSER_TEST_TIMEOUT);
    afterAll(async () => {
      await browser?.close();
    });

    it(
      'the live panel follows the room joined last, even right after its stream renewed',
      async () => {
        const app = await startSample({ TOKEN_TTL: '3' });
        let chat: Awaited<ReturnType<typeof openChat>> | undefined;
        let nia: ReturnType<typeof sampleClient> | undefined;
        // The page and the client go before the server, as the harness closes its own
        // clients first: a page left reconnecting while the sample shuts down is not
        // what this test is about.
        harness.defer(async () => {
          await nia?.close();
          await chat?.close();
          await app.stop();
        });
        chat = await openChat(browser, app, 'rnw', 'renew-a');
        // The stream ends with its token; the browser comes back with it and gets 401, and
        // the page renews the stream a second later. Meanwhile, the person joins another room.
        await chat.page.waitForResponse(
          (response) => response.url().includes('/realtime/events') && response.status() === 401,
          { timeout: PATIENCE },
        );
        await joinWithForm(chat.page, 'renew-b');
        await sleep(1_500);
        nia = sampleClient(app, 'nia');
        await nia.subscribe('renew-a').ready;
        await nia.subscribe('renew-b').ready;
        await nia.request('chat', { room: 'renew-a', text: 'in a' });
        await nia.request('chat', { room: 'renew-b', text: 'in b' });
        await expect.poll(() => activity(chat.page), { timeout: PATIENCE }).toContain('nia: in b');
        expect(await activity(chat.page)).not.toContain('nia: in a');
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
});
