import { describe, expect, it } from 'vitest';
import { resolveAuthenticateHook } from './authenticate.options.js';

const hook = () => ({ userId: 'u' });

describe('resolveAuthenticateHook', () => {
  it('takes a function, or none', () => {
    expect(resolveAuthenticateHook(hook)).toBe(hook);
    expect(resolveAuthenticateHook(undefined)).toBeUndefined();
  });

  it('refuses anything else, naming authenticate', () => {
    const message = 'Invalid nest-realtime option "authenticate": expected a function, got "x"';
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveAuthenticateHook('x' as never)).toThrowError(error);
  });
});
