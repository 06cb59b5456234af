/**
 * The matchers the suite uses: vitest's and jest's `expect` have them all.
 *
 * @example
 * ```ts
 * const matchers: ConformanceMatchers = expect(1); // vitest's expect
 * ```
 */
export interface ConformanceMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatchObject(expected: object): void;
  toHaveLength(length: number): void;
  toBeUndefined(): void;
  toBeDefined(): void;
}

/**
 * The test functions the suite runs on: pass your runner's own (vitest's or jest's),
 * so that this package depends on no test runner.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe, expect, it } from 'vitest';
 * const api: ConformanceTestApi = { describe, it, expect, beforeEach, afterEach };
 * ```
 */
export interface ConformanceTestApi {
  describe(name: string, body: () => void): unknown;
  it(name: string, test: () => Promise<void>): unknown;
  beforeEach(hook: () => Promise<void>): unknown;
  afterEach(hook: () => Promise<unknown>): unknown;
  expect(actual: unknown): ConformanceMatchers;
}
