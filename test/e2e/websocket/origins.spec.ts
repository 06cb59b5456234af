// Origin checks at the WebSocket upgrade and on the SSE endpoints: a page of another
// site is refused before it can authenticate (cross-site WebSocket hijacking).
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  RealtimeConfigError,
  resolveRealtimeOptions,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import { type TestApp, PLATFORMS, usePlatform } from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { httpBase } from '../../support/sse-client.js';

/** Opens a WebSocket as a page of `origin` would; resolves with the status (101) or close code. */
function handshake(app: TestApp, origin: string | undefined, query = 'user=u'): Promise<number> {
  const socket = new WebSocket(`${app.wsUrl}?${query}`, origin ? { headers: { origin } } : {});
  return new Promise((resolve) => {
    socket.on('error', () => undefined);
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    // Opened: 101, unless the server closes at once with a code (a refusal by close code).
    socket.on('open', () => {
      const opened = setTimeout(() => {
        resolve(101);
        socket.terminate();
      }, 50);
      socket.once('close', (code) => {
        clearTimeout(opened);
        resolve(code);
      });
    });
  });
}

async function sseStatus(app: TestApp, origin: string | undefined, method = 'GET') {
  const response = await fetch(
    `${httpBase(app)}/realtime/events${method === 'GET' ? '?room=r&user=u' : '/publish?user=u'}`,
    {
      method,
      headers: origin ? { origin } : {},
      ...(method === 'POST' && { body: '{}' }),
    },
  );
  const status = response.status;
  await response.body?.cancel();
  return status;
}

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('origins', () => {
    const harness = withHarness();
    const start = (options: RealtimeModuleOptions = {}) =>
      harness.start({ authenticate: userFromQuery, ...options });

    it("by default lets the server's own pages and non-browser clients in, and refuses other sites", async () => {
      const app = await start();
      const own = `http://127.0.0.1:${app.port}`;
      expect(await handshake(app, undefined)).toBe(101);
      expect(await handshake(app, own)).toBe(101);
      expect(await handshake(app, 'https://evil.example')).toBe(403);
      // A browser that asked for close codes (it cannot read a status) gets 4503.
      expect(await handshake(app, 'https://evil.example', 'user=u&rt-refuse=close')).toBe(4503);
      expect(await sseStatus(app, undefined)).toBe(200);
      expect(await sseStatus(app, own)).toBe(200);
      expect(await sseStatus(app, 'https://evil.example')).toBe(403);
      expect(await sseStatus(app, 'https://evil.example', 'POST')).toBe(403);
      // Nothing of the refused ones got as far as a connection.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(app.hub.connections.count()).toBe(0);
    });

    it('takes an allow-list with wildcard subdomains, a function, or anyone', async () => {
      const listed = await start({ origins: ['https://*.example.com', 'http://localhost:8080'] });
      expect(await handshake(listed, 'https://app.example.com')).toBe(101);
      expect(await handshake(listed, 'http://localhost:8080')).toBe(101);
      expect(await handshake(listed, 'https://example.com')).toBe(403);
      expect(await handshake(listed, `http://127.0.0.1:${listed.port}`)).toBe(403); // not listed
      expect(await sseStatus(listed, 'https://app.example.com')).toBe(200);

      const judged = await start({ origins: (origin) => origin === 'https://trusted.test' });
      expect(await handshake(judged, 'https://trusted.test')).toBe(101);
      expect(await handshake(judged, 'https://other.test')).toBe(403);

      const open = await start({ origins: '*' });
      expect(await handshake(open, 'https://anywhere.example')).toBe(101);
    });

    it('refuses a malformed policy at start-up, naming the option', () => {
      for (const origins of ['example.com', ['*'], ['https://app.example.com/path'], 42]) {
        expect(() => resolveRealtimeOptions({ origins: origins as never })).toThrow(
          RealtimeConfigError,
        );
        expect(() => resolveRealtimeOptions({ origins: origins as never })).toThrow('"origins"');
      }
    });
  });
});
