// The inspector's page in Chromium, served by node A of two nodes on one Redis, used as a
// person would: it lists both nodes' connections and the room they share, live; tails a
// room published to on node B; its Disconnect button closes a client of node B; and
// without the cookie its guard asks for, it is refused. Screenshots go to
// test-results/browser/inspector-*.png; UPDATE_SCREENSHOTS=1 also writes the README's,
// docs/images/inspector.png (committed, so not rewritten by every run).
import { copyFileSync, mkdirSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/index.js';
import type { TestApp } from '../support/app.js';
import {
  ARTIFACTS,
  BROWSER_TEST_TIMEOUT,
  chromiumAvailable,
  PATIENCE,
  browserAndRedis,
} from '../support/browser.js';
import { join as joinRoom, until, userFromQuery, withHarness } from '../support/fixtures.js';
import { redisAvailable } from '../support/redis.js';
import { httpBase, SseTestClient } from '../support/sse-client.js';
import { eventIs, type TestClient } from '../support/ws-client.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COOKIE = 'inspector=let-me-in';
/** The apps' `inspector.authorize`: the session cookie an app would check. */
const allowed = (request: IncomingMessage) =>
  (request.headers.cookie ?? '').split(/;\s*/).includes(COOKIE);

const inspectorUrl = (app: TestApp) => `${httpBase(app)}/realtime/inspector`;

/** The row of a table whose first cell is exactly `key`. */
const rowOf = (page: Page, body: string, key: string): Locator =>
  page
    .locator(`#${body} tr`)
    .filter({ has: page.locator('td:first-child').getByText(key, { exact: true }) });

/** Whether a figure the page shows is above zero (not 0, not a dash). */
const positive = (text: string | null) => Number(text) > 0;

/** Each cell's text of a row. */
const cellsOf = (row: Locator) => row.locator('td').allTextContents();

describe.runIf(chromiumAvailable() && redisAvailable())('the inspector page', () => {
  const harness = withHarness();
  const { browser, redis } = browserAndRedis();

  let cluster = 0;
  /** Two nodes on the Redis, each serving the inspector behind the cookie. */
  async function nodes(): Promise<[TestApp, TestApp]> {
    const options = {
      authenticate: userFromQuery,
      history: { maxCount: 100 },
      engine: {
        type: 'redis' as const,
        url: redis().url,
        prefix: `inspector-page-${process.pid}-${++cluster}:`,
      },
      inspector: { authorize: allowed },
    };
    return [await harness.start(options), await harness.start(options)];
  }

  /** Node `app`'s inspector in a browser context of its own (with the cookie unless told). */
  async function openInspector(app: TestApp, { cookie = true } = {}) {
    const context = await browser().newContext({
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
    harness.defer(() => context.close());
    if (cookie) {
      const [name, value] = COOKIE.split('=') as [string, string];
      await context.addCookies([{ name, value, url: httpBase(app) }]);
    }
    const page = await context.newPage();
    page.setDefaultTimeout(PATIENCE);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    const response = await page.goto(inspectorUrl(app));
    return { page, errors, response: response! };
  }

  const connect = async (app: TestApp, user: string, rooms: string[] = []) => {
    const client = await harness.connect(`${app.wsUrl}?user=${user}`);
    for (const room of rooms) await joinRoom(client, room);
    return client;
  };

  it(
    "lists both nodes' connections and the room they share, live",
    async () => {
      const [a, b] = await nodes();
      const alice = await connect(a, 'alice', ['lobby']);
      const bob = await connect(b, 'bob', ['lobby']);
      const { page, errors } = await openInspector(a);

      // Both nodes, the page's own first.
      await expect
        .poll(() => page.locator('#nodes-body tr td:first-child .mono').allTextContents(), {
          timeout: PATIENCE,
        })
        .toEqual([a.hub.nodeId, b.hub.nodeId]);
      expect(
        await rowOf(page, 'nodes-body', a.hub.nodeId).locator('.pill:visible').allTextContents(),
      ).toEqual(['this page', 'up']);
      // Each connection, on its node, as who, in which room.
      for (const [client, app, user] of [
        [alice, a, 'alice'],
        [bob, b, 'bob'],
      ] as const) {
        const row = rowOf(page, 'connections-body', client.connectionId);
        await row.waitFor();
        expect((await cellsOf(row)).slice(0, 4)).toEqual([
          client.connectionId,
          app.hub.nodeId,
          'ws',
          user,
        ]);
        expect(await row.locator('td').nth(5).textContent()).toBe('lobby');
      }
      // The room, merged across the nodes: both members, both nodes.
      const lobby = rowOf(page, 'rooms-body', 'lobby');
      await expect
        .poll(() => cellsOf(lobby), { timeout: PATIENCE })
        .toEqual(['lobby', '2', `${a.hub.nodeId}, ${b.hub.nodeId}`]);

      // A client that comes after the page loaded shows up without a reload.
      const carol = await connect(b, 'carol', ['lobby']);
      await rowOf(page, 'connections-body', carol.connectionId).waitFor();
      await expect.poll(() => cellsOf(lobby), { timeout: PATIENCE }).toContain('3');
      await expect.poll(() => page.textContent('#t-connections'), { timeout: PATIENCE }).toBe('3');
      expect(await page.textContent('#t-nodes')).toBe('2');
      expect(await page.textContent('#t-users')).toBe('3');
      expect(await rowOf(page, 'users-body', 'carol').locator('td').nth(2).textContent()).toBe(
        b.hub.nodeId,
      );
      await page.screenshot({ path: join(ARTIFACTS, 'inspector-live.png') });
      expect(errors).toEqual([]);
    },
    BROWSER_TEST_TIMEOUT,
  );

  it(
    'tails a room: a message published on node B shows; the publish form answers',
    async () => {
      const [a, b] = await nodes();
      const bob = await connect(b, 'bob', ['lobby']);
      const { page, errors } = await openInspector(a);
      await rowOf(page, 'rooms-body', 'lobby').click();
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();

      // Published on node B, tailed through node A.
      await b.hub.to('lobby').emit('chat', { text: 'hello from node B' });
      const line = page.locator('#tail-lines li', { hasText: 'hello from node B' });
      await line.waitFor();
      expect(await line.locator('.offset').textContent()).toBe('#1');
      expect(await line.locator('.event').textContent()).toBe('chat');
      expect(await line.locator('code').textContent()).toBe('{ "text": "hello from node B" }');

      // The room, read through the engine: its member on node B, its user, its stream.
      await expect.poll(() => page.textContent('#r-offset'), { timeout: PATIENCE }).toBe('1');
      expect(await page.textContent('#r-members')).toBe('1');
      expect(await page.locator('#r-by-node li').allTextContents()).toEqual([`${b.hub.nodeId}1`]);
      expect(await page.locator('#r-users li').allTextContents()).toEqual(['bobonline']);

      // A test message from the page reaches the member on node B, and the tail.
      await page.fill('#publish-event', 'ping');
      await page.fill('#publish-data', '{"n":2}');
      await page.click('#publish-send');
      await page.locator('#publish-result.ok', { hasText: 'at offset 2' }).waitFor();
      expect((await bob.next(eventIs('ping'))).data).toEqual({ n: 2 });
      await page.locator('#tail-lines li', { hasText: '{ "n": 2 }' }).waitFor();
      // An event the API refuses: its message, as the API gave it.
      await page.fill('#publish-event', 'rt:forged');
      await page.click('#publish-send');
      await page
        .locator('#publish-result.error', { hasText: 'INVALID_DATA: events starting with "rt:"' })
        .waitFor();
      // Data that is not JSON never leaves the page.
      await page.fill('#publish-event', 'ping');
      await page.fill('#publish-data', '{nope');
      await page.click('#publish-send');
      await page.locator('#publish-result.error', { hasText: 'The data is not JSON' }).waitFor();

      // Pause holds new lines back; resume shows them; clear empties the tail.
      await page.click('#tail-pause');
      await b.hub.to('lobby').emit('chat', { text: 'while paused' });
      await page.locator('#tail-pause', { hasText: 'Resume (1)' }).waitFor();
      expect(await page.locator('#tail-lines li', { hasText: 'while paused' }).count()).toBe(0);
      await page.click('#tail-pause');
      await page.locator('#tail-lines li', { hasText: 'while paused' }).waitFor();
      await page.click('#tail-clear');
      expect(await page.locator('#tail-lines li').count()).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, 'inspector-tail.png') });

      // The browser's own line for the refused publish: nothing else went wrong.
      expect(errors).toEqual([expect.stringContaining('status of 400 (Bad Request)')]);
    },
    BROWSER_TEST_TIMEOUT,
  );

  it(
    "the Disconnect button of a connection of node B closes it with 4500, and its row goes; so does a user's",
    async () => {
      const [a, b] = await nodes();
      const alice = await connect(a, 'alice', ['lobby']);
      const bob = await connect(b, 'bob', ['lobby']);
      const { page, errors } = await openInspector(a);
      const row = rowOf(page, 'connections-body', bob.connectionId);
      await row.getByRole('button', { name: 'Disconnect' }).click();
      expect(await bob.closed).toBe(CloseCode.Disconnected);
      await page.locator('.toast', { hasText: `Disconnected ${bob.connectionId}` }).waitFor();
      await row.waitFor({ state: 'detached' });
      await rowOf(page, 'connections-body', alice.connectionId).waitFor();
      expect(await page.locator('#connections-body tr').count()).toBe(1);

      // A user, once confirmed: every connection of theirs.
      page.once('dialog', (dialog) => void dialog.accept());
      await rowOf(page, 'users-body', 'alice')
        .getByRole('button', { name: 'Disconnect user' })
        .click();
      expect(await alice.closed).toBe(CloseCode.Disconnected);
      await page.locator('.toast', { hasText: 'Disconnected user alice' }).waitFor();
      await page.locator('#connections-empty').waitFor();
      expect(errors).toEqual([]);
    },
    BROWSER_TEST_TIMEOUT,
  );

  // Regression: deleting the room shown answered 500, as the hub took the page's tail (a
  // watcher of the room's channel on this node) for a member connection.
  it(
    'deletes the room shown (and tailed), once confirmed: it goes on every node',
    async () => {
      const [a, b] = await nodes();
      await connect(b, 'bob', ['lobby']);
      const { page } = await openInspector(a);
      await rowOf(page, 'rooms-body', 'lobby').click();
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      page.once('dialog', (dialog) => void dialog.accept());
      await page.click('#room-delete');
      expect(await page.locator('.toast').first().textContent()).toBe('Deleted room lobby');
      expect(await b.hub.roomInfo('lobby')).toBeUndefined();
      // Its member on node B left it.
      await until(() => ![...b.hub.connections.list()].some((c) => c.rooms.has('lobby')));
      await rowOf(page, 'rooms-body', 'lobby').waitFor({ state: 'detached' });
    },
    BROWSER_TEST_TIMEOUT,
  );

  it(
    'without the cookie, the page and its API are 403',
    async () => {
      const [a] = await nodes();
      const { page, response } = await openInspector(a, { cookie: false });
      expect(response.status()).toBe(403);
      expect(JSON.parse(await page.innerText('body'))).toMatchObject({
        error: { code: 'FORBIDDEN' },
      });
      const api = await page.request.get(`${inspectorUrl(a)}/api/snapshot`);
      expect(api.status()).toBe(403);
    },
    BROWSER_TEST_TIMEOUT,
  );

  it(
    'the screenshot of the README: a few connections, two rooms, one shown with its tail',
    async () => {
      const [a, b] = await nodes();
      const clients: TestClient[] = [
        await connect(a, 'alice', ['lobby', 'support']),
        await connect(b, 'bob', ['lobby']),
        await connect(b, 'carol', ['lobby', 'support']),
        await connect(a, 'dave', ['lobby']),
        await connect(b, 'alice', ['lobby']),
      ];
      await clients[1]!.request('rt:status', { status: 'away' });
      await clients[2]!.request('rt:status', { status: 'busy' });
      const erin = await SseTestClient.open(
        `${httpBase(a)}/realtime/events?room=support&user=erin`,
      );
      harness.defer(() => erin.close());
      const { page, errors } = await openInspector(a);
      await rowOf(page, 'rooms-body', 'lobby').click();
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      // A room in use: a message every 250 ms, from either node, while the page looks.
      const lines = [
        ['alice', 'anyone up for a review?'],
        ['bob', 'in five minutes'],
        ['carol', 'the deploy went out'],
        ['dave', 'thanks, on it'],
        ['alice', 'shipping it'],
      ] as const;
      let sent = 0;
      let sending = Promise.resolve();
      const chatter = setInterval(() => {
        const [from, text] = lines[sent % lines.length]!;
        const node = sent++ % 2 === 0 ? a : b;
        sending = sending.then(() => node.hub.to('lobby').emit('chat', { from, text }).then());
      }, 250);
      harness.defer(async () => {
        clearInterval(chatter);
        await sending;
      });
      // Rates need two snapshots; the room's users their statuses.
      for (const id of ['#t-published', '#t-delivered', '#r-rate']) {
        await expect.poll(() => page.textContent(id), { timeout: PATIENCE }).toSatisfy(positive);
      }
      await expect
        .poll(() => page.locator('#tail-lines li').count(), { timeout: PATIENCE })
        .toBeGreaterThanOrEqual(8);
      expect(await page.textContent('#t-connections')).toBe('6');
      await page.locator('#users-body tr', { hasText: 'busy' }).waitFor();
      const shot = join(ARTIFACTS, 'inspector-readme.png');
      await page.screenshot({ path: shot });
      // docs/images/inspector.png is committed: written again only when asked.
      if (process.env.UPDATE_SCREENSHOTS === '1') {
        mkdirSync(join(root, 'docs', 'images'), { recursive: true });
        copyFileSync(shot, join(root, 'docs', 'images', 'inspector.png'));
      }
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: join(ARTIFACTS, 'inspector-dark.png') });
      expect(errors).toEqual([]);
    },
    BROWSER_TEST_TIMEOUT,
  );
});
