/**
 * An error an RPC handler throws to answer with a code of the app's own (the
 * codes of {@link ErrorCode} are the library's). The client receives
 * `{ code, message, details? }`.
 *
 * @example
 * ```ts
 * rpc.register('cart.checkout', async ({ cartId }) => {
 *   if (!(await carts.exists(cartId))) throw new RpcError('CART_NOT_FOUND', `no cart ${cartId}`);
 *   return carts.checkout(cartId);
 * });
 * ```
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';

  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
