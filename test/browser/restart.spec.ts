// The sample's node restarts in the middle of a conversation. The page shows that it
// is reconnecting, then every message sent meanwhile (by a Node client on another node
// of the same Redis) appears once, in order; the page's EventSource comes back too
// and its live panel misses nothing.
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import {
  BROWSER_TEST_TIMEOUT,
  chatLines,
  chromiumAvailable,
  openChat,
  PATIENCE,
  startSample,
  browserAndRedis,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';
import { redisAvailable } from '../support/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(chromiumAvailable() && redisAvailable())('the sample page across a restart', () => {
  const harness = withHarness();
  const { browser, redis } = browserAndRedis();

  it(
    'shows reconnecting, then every message sent meanwhile, once and in order, in the chat and the live panel',
    async () => {
      // Two nodes of the sample on one Redis, sharing the secret of their tokens.
      const env = { REDIS_URL: redis().url, JWT_SECRET: 'browser-test-secret' };
      let a = await startSample(env);
      const b = await startSample(env);
      harness.defer(() => a.stop());
      harness.defer(() => b.stop());
      const chat = await openChat(browser(), a, 'pam');
      harness.defer(() => chat.close());
      const { page } = chat;
      await page.waitForFunction(() =>
        document.querySelector('#stats')?.textContent?.startsWith('node'),
      );
      // The page's connection states, as it shows them.
      const states: string[] = [];
      await page.exposeFunction('noteState', (state: string) => states.push(state));
      await page.evaluate(() => {
        const badge = document.querySelector('#state')!;
        new MutationObserver(() => (window as any).noteState(badge.textContent)).observe(badge, {
          childList: true,
          characterData: true,
          subtree: true,
        });
      });

      // A Node client of node B says 1..20 while node A goes away and comes back.
      const { token } = await (await fetch(`${b.url}/token?name=nia`)).json();
      const nia = new RealtimeClient(`ws://127.0.0.1:${b.port}/ws?token=${token}`, { WebSocket });
      harness.defer(() => nia.close());
      await nia.subscribe('lobby').ready;
      const say = async (from: number, to: number) => {
        for (let n = from; n <= to; n++) {
          await nia.request('chat', { room: 'lobby', text: `message ${n}` });
          await sleep(20);
        }
      };
      await say(1, 5);
      await page.waitForFunction(
        () => document.querySelectorAll('#log li:not(.system)').length === 5,
      );
      await a.stop('SIGKILL');
      await say(6, 15);
      a = await startSample({ ...env, GRPC_PORT: String(a.grpcPort) }, a.port); // back, on its ports
      await say(16, 20);

      const expected = Array.from({ length: 20 }, (_, i) => `nia: message ${i + 1}`);
      await expect.poll(() => chatLines(page), { timeout: PATIENCE }).toEqual(expected);
      expect(states.some((state) => state.startsWith('reconnecting'))).toBe(true);
      // The recovered messages come before the re-join's answer, and the page shows
      // 'connected' once every resume step is answered: a moment later.
      await expect.poll(() => states.at(-1), { timeout: PATIENCE }).toBe('connected');
      // The live panel's EventSource came back (after its retry) and resumed its place.
      await expect
        .poll(
          () =>
            page.evaluate(() =>
              [...document.querySelectorAll('#activity li')].map((li) => li.textContent),
            ),
          { timeout: PATIENCE },
        )
        .toEqual(expected);
      expect(chat.errors).toEqual([]);
    },
    BROWSER_TEST_TIMEOUT,
  );
});
