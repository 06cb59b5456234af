import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, CloseCode } from '../protocol/index.js';
import { backoffDelay, resolveReconnectOptions } from './backoff.js';
import { reconnectDecision, type EndedConnection } from './reconnect-policy.js';

const options = resolveReconnectOptions({ initialDelay: 100, maxDelay: 10_000, maxAttempts: 5 });
const half = () => 0.5;
/** A connection of a string URL that lasted 5 s, after two failed attempts. */
const ended = (change: Partial<EndedConnection> = {}): EndedConnection => ({
  code: 1006,
  lasted: 5_000,
  attempt: 2,
  renewable: false,
  authRetried: false,
  ...change,
});
const decide = (change: Partial<EndedConnection>) =>
  reconnectDecision(ended(change), options, half);
const backoff = {
  action: 'after',
  delay: backoffDelay(2, options, half),
  attempt: 3,
  why: 'backoff',
};
const final = { action: 'stop', why: 'final-code' };

describe('the reconnect policy', () => {
  it('follows each row of CLOSE_CODES, with a string URL and with a URL function', () => {
    const rows = Object.entries(CLOSE_CODES).map(([code, { reconnect }]) => {
      const n = Number(code);
      return [n, reconnect, decide({ code: n }), decide({ code: n, renewable: true })];
    });
    expect(rows).toEqual([
      [CloseCode.GoingAway, 'backoff', backoff, backoff],
      [CloseCode.MessageTooBig, 'backoff', backoff, backoff],
      [CloseCode.InternalError, 'backoff', backoff, backoff],
      [CloseCode.ServerFull, 'backoff', backoff, backoff],
      [CloseCode.UserConnectionLimit, 'backoff', backoff, backoff],
      [CloseCode.SlowConsumer, 'backoff', backoff, backoff],
      [CloseCode.RateLimited, 'backoff', backoff, backoff],
      [
        CloseCode.TokenExpired,
        'at-once',
        backoff,
        { action: 'now', delay: 0, attempt: 2, why: 'expired-credentials' },
      ],
      [CloseCode.Disconnected, 'never', final, final],
      [
        CloseCode.AuthenticationRefused,
        'never',
        final,
        { action: 'now', delay: 0, attempt: 2, why: 'refused-credentials' },
      ],
      [CloseCode.Forbidden, 'never', final, final],
    ]);
  });

  it('reconnects with backoff after the other codes but the final ones (docs/client.md)', () => {
    const codes = [1000, 1002, 1003, 1005, 1006, 1007, 1008, 1010, 1012, 1014, 4000, 4100, 4499];
    const rows = [...codes, 4502, 4999, 3000].map((code) => [code, decide({ code }).action]);
    expect(rows).toEqual([
      [1000, 'stop'],
      [1002, 'stop'],
      [1003, 'stop'],
      [1005, 'after'],
      [1006, 'after'],
      [1007, 'stop'],
      [1008, 'stop'],
      [1010, 'stop'],
      [1012, 'after'],
      [1014, 'after'],
      [4000, 'after'],
      [4100, 'after'],
      [4499, 'after'],
      [4502, 'stop'],
      [4999, 'stop'],
      [3000, 'after'],
    ]);
  });

  it('renews expired credentials at once only after a connection that lasted a second', () => {
    const expired = { code: CloseCode.TokenExpired, renewable: true };
    expect(decide({ ...expired, lasted: 1_000 }).action).toBe('now');
    expect(decide({ ...expired, lasted: 999 })).toEqual(backoff);
    expect(decide({ ...expired, lasted: undefined })).toEqual(backoff);
    // At once even when the backoff's attempts are spent: the connection did last.
    expect(decide({ ...expired, attempt: 5 }).action).toBe('now');
  });

  it('retries refused credentials once, until a connection resets it', () => {
    const refused = { code: CloseCode.AuthenticationRefused, renewable: true };
    expect(decide({ ...refused, attempt: 5 }).action).toBe('now');
    expect(decide({ ...refused, authRetried: true })).toEqual(final);
  });

  it('stops at once with reconnect: false, whatever the code', () => {
    const disabled = reconnectDecision(ended({ code: CloseCode.TokenExpired }), false);
    expect(disabled).toEqual({ action: 'stop', why: 'disabled' });
  });

  it('stops once maxAttempts failed in a row', () => {
    expect(decide({ attempt: 4 }).action).toBe('after');
    expect(decide({ attempt: 5 })).toEqual({ action: 'stop', why: 'attempts-spent' });
  });

  it('counts attempts again only after a connection that lasted maxDelay', () => {
    const first = { action: 'after', delay: backoffDelay(0, options, half), attempt: 1 };
    expect(decide({ attempt: 5, lasted: 10_000 })).toMatchObject(first);
    expect(decide({ attempt: 4, lasted: 9_999 })).toMatchObject({ attempt: 5 });
    // An attempt that never connected counts, even with delays of 0.
    const instant = resolveReconnectOptions({ maxDelay: 0, maxAttempts: 1 });
    const never = reconnectDecision(ended({ attempt: 1, lasted: undefined }), instant);
    expect(never).toEqual({ action: 'stop', why: 'attempts-spent' });
  });

  it('waits a backoff delay with jitter below the ceiling of the attempt', () => {
    const delays = [0, 0.5, 0.999].map(
      (n) => (reconnectDecision(ended(), options, () => n) as { delay: number }).delay,
    );
    expect(delays).toEqual([0, 200, 399]);
  });
});
