import { Logger } from '@nestjs/common';
import type { HistogramFamily } from './metrics/metric-families.js';
import type { NodeController } from '../engines/node-controller.interface.js';
import { ErrorCode, RealtimeError } from '../protocol/index.js';
import { RpcError } from './rpc/rpc-error.js';
import { logFailure } from '../engines/engine-unavailable.error.js';

/** Requests of this node waiting for another node's answer, at most. */
const MAX_ASKING = 10_000;
const ANSWER = '~answer';

/** What travels between hubs, through the engine's node controller. */
interface NodeMessage {
  /** the kind (a registered handler's name, or the answer) */
  k: string;
  /** the node it comes from */
  f: string;
  /** the payload */
  p?: unknown;
  /** the id of a request that waits for an answer */
  i?: number;
  /** an answer's error: its class, code and message */
  e?: { rpc: boolean; code: string; message: string; details?: Record<string, unknown> };
}

/** Runs a kind of message from another node; what it resolves with answers a request. */
export type NodeHandler = (payload: any, from: string) => unknown;

interface Asking {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The node that holds a connection, from its id (`<nodeId>.<counter>`); '' when the
 * id names no node (a client may send any string as an id).
 *
 * @example
 * ```ts
 * nodeOf('k3Jx9a.17'); // 'k3Jx9a'
 * ```
 */
export function nodeOf(connectionId: string): string {
  const node = connectionId.slice(0, Math.max(0, connectionId.lastIndexOf('.')));
  return isNodeId(node) ? node : '';
}

/**
 * Whether a string has the shape of a node id (`randomBytes(6)` in base64url): what
 * names another node in a connection or message id. Anything else is no node.
 */
export function isNodeId(value: string): boolean {
  return /^[\w-]{8}$/.test(value);
}

/**
 * How the hubs of a cluster talk to each other, through the engine's node controller:
 * one-way orders (`tell`) and requests that another node answers (`ask`), each kind
 * run by a handler registered with `handle`. An answer's error comes back as the same
 * class and code (RealtimeError, RpcError); a node that does not answer in time is
 * NODE_UNAVAILABLE.
 *
 * @example
 * ```ts
 * link.handle('leave', ({ id, room }) => hub.leave(id, room));
 * await link.ask(nodeOf(id), 'leave', { id, room }, 5_000);
 * ```
 */
export class NodeLink {
  private readonly handlers = new Map<string, NodeHandler>();
  private readonly asking = new Map<number, Asking>();
  private sequence = 0;
  private readonly logger = new Logger('RealtimeHub');

  constructor(
    private readonly controller: NodeController,
    private readonly nodeId: string,
    /** Where the requests' round trips are timed, by kind and outcome. */
    private readonly roundTrips?: HistogramFamily,
  ) {}

  /** Runs `handler` for each message of `kind` from another node. */
  handle(kind: string, handler: NodeHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Sends a one-way message to one node, or to all (`undefined`); a failure is logged. */
  tell(node: string | undefined, kind: string, payload: unknown): void {
    this.send(node, { k: kind, f: this.nodeId, p: payload }).catch((error: unknown) => {
      logFailure(this.logger, `a message to ${node ?? 'all nodes'} failed`, error);
    });
  }

  /**
   * Asks one node, and resolves with its handler's answer.
   *
   * @throws RealtimeError NODE_UNAVAILABLE (no answer in `timeout` ms, or the engine
   *   could not send), TOO_MANY_REQUESTS; or the error the handler threw.
   */
  ask(node: string, kind: string, payload: unknown, timeout: number): Promise<unknown> {
    if (this.asking.size >= MAX_ASKING) {
      return Promise.reject(
        new RealtimeError(ErrorCode.TooManyRequests, `${MAX_ASKING} node requests are waiting`),
      );
    }
    const id = ++this.sequence;
    let frame: Buffer;
    try {
      frame = encode({ k: kind, f: this.nodeId, p: payload, i: id });
    } catch {
      return Promise.reject(new RealtimeError(ErrorCode.InvalidData, 'the request must be JSON'));
    }
    const started = performance.now();
    const timed = (outcome: string) =>
      this.roundTrips?.observe((performance.now() - started) / 1_000, kind, outcome);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.asking.delete(id);
        timed('unavailable');
        reject(new RealtimeError(ErrorCode.NodeUnavailable, `node ${node} did not answer in time`));
      }, timeout);
      const answered = (value: unknown) => {
        timed('ok');
        resolve(value);
      };
      const failed = (error: Error) => {
        const unanswered =
          error instanceof RealtimeError && error.code === ErrorCode.NodeUnavailable;
        timed(unanswered ? 'unavailable' : 'error');
        reject(error);
      };
      this.asking.set(id, { resolve: answered, reject: failed, timer });
      this.publish(node, frame).catch(() => {
        this.settle({ k: ANSWER, f: node, i: id, e: unavailable(node) });
      });
    });
  }

  /**
   * An order from the controller (to this node, or to all), never run when it is this
   * node's own (an order to all reaches its sender too): it acted already.
   */
  receive(frame: Buffer): void {
    let message: NodeMessage;
    try {
      message = JSON.parse(frame.toString('utf8')) as NodeMessage;
    } catch {
      return;
    }
    if (message.f === this.nodeId) return;
    if (message.k === ANSWER) {
      this.settle(message);
      return;
    }
    const handler = this.handlers.get(message.k);
    if (!handler) return;
    const answer = (reply: Omit<NodeMessage, 'k' | 'f' | 'i'>) => {
      if (message.i === undefined) return;
      this.send(message.f, { k: ANSWER, f: this.nodeId, i: message.i, ...reply }).catch(
        (error: unknown) => logFailure(this.logger, `an answer to ${message.f} failed`, error),
      );
    };
    (async () => handler(message.p, message.f))().then(
      (result) => answer({ p: result ?? null }),
      (error: unknown) => {
        const expected = error instanceof RealtimeError || error instanceof RpcError;
        if (message.i === undefined || !expected) {
          logFailure(this.logger, `a ${message.k} from node ${message.f} failed`, error);
        }
        answer({ e: errorOf(error) });
      },
    );
  }

  /** Rejects every request still waiting (shutdown). */
  close(): void {
    for (const [id, asking] of this.asking) {
      clearTimeout(asking.timer);
      asking.reject(new RealtimeError(ErrorCode.NodeUnavailable, 'the node is shutting down'));
      this.asking.delete(id);
    }
  }

  private settle({ i, p, e }: NodeMessage): void {
    const asking = i === undefined ? undefined : this.asking.get(i);
    if (!asking) return; // late: timed out already
    this.asking.delete(i!);
    clearTimeout(asking.timer);
    if (!e) asking.resolve(p);
    else if (e.rpc) asking.reject(new RpcError(e.code, e.message, e.details));
    else asking.reject(new RealtimeError(e.code as ErrorCode, e.message));
  }

  private send(node: string | undefined, message: NodeMessage): Promise<void> {
    try {
      return this.publish(node, encode(message));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private publish(node: string | undefined, frame: Buffer): Promise<void> {
    return this.controller.send(node, frame);
  }
}

/** @throws TypeError for what JSON cannot carry (a BigInt, a cycle). */
function encode(message: NodeMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

function unavailable(node: string): NonNullable<NodeMessage['e']> {
  return { rpc: false, code: ErrorCode.NodeUnavailable, message: `node ${node} is unreachable` };
}

/** An error as an answer carries it: RealtimeError and RpcError keep their code. */
function errorOf(error: unknown): NonNullable<NodeMessage['e']> {
  if (error instanceof RpcError) {
    return { rpc: true, code: error.code, message: error.message, details: error.details };
  }
  if (error instanceof RealtimeError) {
    return { rpc: false, code: error.code, message: error.message };
  }
  return { rpc: false, code: ErrorCode.InternalError, message: 'the node failed' };
}
