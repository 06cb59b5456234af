import { describe, expect, it } from 'vitest';
import { resolveOriginPolicy } from './origin.options.js';

const policy = () => true;

describe('resolveOriginPolicy', () => {
  it('is same-origin unless set, and takes every kind of policy', () => {
    expect(resolveOriginPolicy(undefined)).toBe('same-origin');
    expect(resolveOriginPolicy('*')).toBe('*');
    const list = ['https://a.example.com', 'https://*.example.com:8443'];
    expect(resolveOriginPolicy(list)).toBe(list);
    expect(resolveOriginPolicy(policy)).toBe(policy);
  });

  it.each([['x'], [['a.example.com']], [3]])('refuses %j, naming origins', (given) => {
    const expected = `'same-origin', '*', a list of origins ("https://app.example.com", "https://*.example.com") or a function`;
    const error = expect.objectContaining({
      name: 'RealtimeConfigError',
      message: expect.stringContaining(
        `Invalid nest-realtime option "origins": expected ${expected}, got `,
      ),
    });
    expect(() => resolveOriginPolicy(given as never)).toThrowError(error);
  });
});
