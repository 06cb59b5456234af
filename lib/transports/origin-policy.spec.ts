import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { originAllowed, type OriginPolicy } from './origin-policy.js';

const request = (origin: string | undefined, host = 'chat.example.com') =>
  ({ headers: { origin, host } }) as unknown as IncomingMessage;

describe('originAllowed', () => {
  it.each<[OriginPolicy, string | undefined, boolean]>([
    // A request without Origin is no page: authenticate decides.
    ['same-origin', undefined, true],
    ['same-origin', 'https://chat.example.com', true],
    ['same-origin', 'http://chat.example.com', true], // the host is what is compared
    ['same-origin', 'https://evil.example', false],
    ['same-origin', 'https://chat.example.com.evil.example', false],
    ['same-origin', 'null', false],
    ['same-origin', 'not a url', false],
    ['*', 'https://evil.example', true],
    [['https://app.example.com'], 'https://app.example.com', true],
    [['https://app.example.com'], 'https://app.example.com:8443', false],
    [['https://*.example.com'], 'https://app.example.com', true],
    [['https://*.example.com'], 'https://example.com', false],
    [['https://*.example.com'], 'https://a.b.example.com', false],
    [['https://*.example.com'], 'http://app.example.com', false],
    [['https://*.example.com'], 'https://evil.com/.example.com', false],
    [['https://*.example.com'], 'https://user@x.example.com', false],
    [(origin) => origin.endsWith('.test'), 'https://a.test', true],
    [(origin) => origin.endsWith('.test'), 'https://a.example', false],
  ])('%s lets %s in: %s', (policy, origin, allowed) => {
    expect(originAllowed(request(origin), policy)).toBe(allowed);
  });

  it('same-origin compares the port too, and refuses a request without Host', () => {
    expect(originAllowed(request('http://localhost:3000', 'localhost:3000'), 'same-origin')).toBe(
      true,
    );
    expect(originAllowed(request('http://localhost:3001', 'localhost:3000'), 'same-origin')).toBe(
      false,
    );
    const noHost = { headers: { origin: 'http://localhost' } } as unknown as IncomingMessage;
    expect(originAllowed(noHost, 'same-origin')).toBe(false);
  });
});
