import { ms, positiveInteger, resolveGroup, type Rule } from '../../options-check.js';

/**
 * RPC, both ways.
 *
 * @example
 * ```ts
 * rpc: { timeout: 5_000, maxPendingCalls: 20 }
 * ```
 */
export interface RpcOptions {
  /** How long a call may wait for its answer, either way, in ms. Default 10000. */
  timeout?: number;
  /** Server-to-client calls one connection may have waiting. Default 100. */
  maxPendingCalls?: number;
}

/**
 * The RPC options after defaults and checks.
 *
 * @example
 * ```ts
 * const { timeout }: ResolvedRpcOptions = resolveRpcOptions({});
 * ```
 */
export type ResolvedRpcOptions = Readonly<Required<RpcOptions>>;

/**
 * How RPC waits unless told otherwise.
 *
 * @example
 * ```ts
 * RPC_DEFAULTS.timeout; // 10000
 * ```
 */
export const RPC_DEFAULTS: ResolvedRpcOptions = { timeout: 10_000, maxPendingCalls: 100 };

const RULES: Record<keyof RpcOptions, Rule> = { timeout: ms, maxPendingCalls: positiveInteger };

/**
 * The `rpc` options with defaults, checked.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveRpcOptions({ timeout: 5_000 }).maxPendingCalls; // 100
 * ```
 */
export function resolveRpcOptions(given: RpcOptions | undefined): ResolvedRpcOptions {
  return resolveGroup('rpc', given, RULES, RPC_DEFAULTS);
}
