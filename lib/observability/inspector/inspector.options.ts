import type { IncomingMessage } from 'node:http';
import {
  isPlainObject,
  path,
  RealtimeConfigError,
  resolveGroup,
  type Rule,
} from '../../options-check.js';

/**
 * The inspector's own guard: whether this request may see and act on the inspector.
 * It is required: the page lists every user and connection and can disconnect them.
 *
 * @example
 * ```ts
 * const authorize: InspectorAuthorize = (req) => req.headers.authorization === `Bearer ${process.env.ADMIN_TOKEN}`;
 * ```
 */
export type InspectorAuthorize = (request: IncomingMessage) => boolean | Promise<boolean>;

/**
 * The inspector (docs/observability.md): a live page of every node's connections,
 * rooms and users, with actions. Off unless set.
 *
 * @example
 * ```ts
 * inspector: { path: '/realtime/inspector', authorize: (req) => isAdmin(req) }
 * ```
 */
export interface InspectorOptions {
  /** Where the page is served (its API under `<path>/api`). Default `/realtime/inspector`. */
  path?: string;
  /** Required: who may use it. A request it refuses gets 403. */
  authorize: InspectorAuthorize;
}

/**
 * The inspector options after defaults and checks.
 *
 * @example
 * ```ts
 * const { path }: ResolvedInspectorOptions = resolveInspectorOptions({ authorize: () => true })!;
 * ```
 */
export type ResolvedInspectorOptions = Readonly<Required<InspectorOptions>>;

const RULES: Record<keyof InspectorOptions, Rule> = {
  path,
  authorize: [
    (v) => typeof v === 'function',
    'a function (the inspector needs a guard of its own)',
  ],
};

/**
 * The `inspector` options with defaults, checked; undefined when it is off.
 *
 * @throws RealtimeConfigError naming the first wrong option (`authorize` is required).
 * @example
 * ```ts
 * resolveInspectorOptions({ authorize: () => true })!.path; // '/realtime/inspector'
 * ```
 */
export function resolveInspectorOptions(
  given: InspectorOptions | undefined,
): ResolvedInspectorOptions | undefined {
  if (given === undefined) return undefined;
  if (!isPlainObject(given as unknown)) {
    throw new RealtimeConfigError('inspector', 'an object', given);
  }
  if (given.authorize === undefined) {
    throw new RealtimeConfigError('inspector.authorize', RULES.authorize[1], undefined);
  }
  return resolveGroup('inspector', given, RULES, {
    path: '/realtime/inspector',
    authorize: given.authorize,
  });
}
