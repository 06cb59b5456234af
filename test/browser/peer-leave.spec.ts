// A page (Chromium's RTCPeerConnection, the library's browser bundle) with a data
// channel to the server's peer sends rt:peer-leave: its channel closes cleanly (its
// stream reset both ways, no error), then its SCTP and DTLS transports. werift's own
// close stopped DTLS and ICE before anything reached the page, whose channel stayed
// open until its ICE consent ran out (15-30 s); and Chromium ignores the first stream
// reset werift sends it, so a close that waited for werift's retransmission aborted
// the channel first ("sctp-failure").
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BROWSER_TEST_TIMEOUT,
  chromiumAvailable,
  launchBrowser,
  PATIENCE,
} from '../support/browser.js';
import { WebRtcSignalingService } from '../../lib/index.js';
import { userFromQuery, withHarness } from '../support/fixtures.js';
import { LOOPBACK_WEBRTC } from '../support/webrtc.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');

describe.runIf(chromiumAvailable())("rt:peer-leave in Chromium: the page's side", () => {
  let browser: Browser;
  const harness = withHarness();
  beforeAll(async () => {
    browser = await launchBrowser();
  }, BROWSER_TEST_TIMEOUT);
  afterAll(() => browser?.close());

  it(
    'closes the channel cleanly, then the SCTP and DTLS transports',
    async () => {
      const app = await harness.start(
        // The server waits for the resets however slow the machine is: past
        // closeTimeout it aborts, which closes the channel with an error.
        { authenticate: userFromQuery, webrtc: { ...LOOPBACK_WEBRTC, closeTimeout: 600_000 } },
        {},
        {
          platform: 'express',
          // The library's browser bundle (npm run build), as the sample serves it.
          configure: (nest) =>
            (nest as NestExpressApplication).useStaticAssets(DIST, { prefix: '/nest-realtime/' }),
        },
      );
      const context = await browser.newContext();
      harness.defer(() => context.close());
      const page = await context.newPage();
      const bundle = `http://127.0.0.1:${app.port}/nest-realtime/browser/nest-realtime-client.js`;
      await page.goto(bundle); // a page of the app's origin
      // The page sends rt:peer-leave itself (RoomCall.leave() would close its own side first).
      // (As text: the test runner would rewrite a dynamic import in a function.)
      await page.evaluate(`(async () => {
      const { RealtimeClient, RoomCall } = await import('${bundle}');
      const client = new RealtimeClient('${app.wsUrl}?user=lee');
      await client.subscribe('game').ready;
      const pc = await new RoomCall(client, 'game').connectServer();
      const channel = pc.createDataChannel('rt');
      await new Promise((resolve) => (channel.onopen = resolve));
      const seen = [];
      Object.assign(window, { pc, channel, seen });
      channel.onclose = () => seen.push('channel closed');
      channel.onerror = ({ error }) => seen.push('channel error: ' + error.errorDetail);
      pc.sctp.onstatechange = () => seen.push('sctp ' + pc.sctp.state);
      pc.sctp.transport.onstatechange = () => seen.push('dtls ' + pc.sctp.transport.state);
      window.leave = () => client.request('rt:peer-leave', { room: 'game' });
    })()`);
      // werift retransmits an unanswered stream reset only after its RTO: here never
      // within the test, so the reset that Chromium answers is the one sent twice.
      const servers = (app.app.get(WebRtcSignalingService) as any).servers;
      const [serverPeer] = servers.peers.values();
      serverPeer.pc.sctpTransport.sctp.rto = 3_600;
      type Page = {
        pc: RTCPeerConnection;
        channel: RTCDataChannel;
        seen: string[];
        leave(): Promise<unknown>;
      };
      expect(await page.evaluate(() => (window as unknown as Page).leave())).toBe(true);
      await page.waitForFunction(
        () => {
          const { pc, channel } = window as unknown as Page;
          return (
            channel.readyState === 'closed' &&
            pc.sctp?.state === 'closed' &&
            pc.sctp.transport.state === 'closed'
          );
        },
        undefined,
        { timeout: PATIENCE },
      );
      expect(await page.evaluate(() => (window as unknown as Page).seen)).toEqual([
        'channel closed',
        'sctp closed',
        'dtls closed',
      ]);
    },
    BROWSER_TEST_TIMEOUT,
  );
});
