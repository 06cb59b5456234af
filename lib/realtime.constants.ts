/**
 * Injection token of the checked options ({@link ResolvedRealtimeOptions}).
 *
 * @example
 * ```ts
 * constructor(@Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions) {}
 * ```
 */
export const REALTIME_OPTIONS = Symbol('realtime:options');
