import type { PeerServer } from './peer.js';
import { startGrpcJs } from './grpc-js.peer.js';

/**
 * The grpc-js server, each room message serialised once and its bytes written to
 * every call: a careful hand-written server, a row of its own beside the minimal one.
 */
export function start(): Promise<PeerServer> {
  return startGrpcJs(true);
}
