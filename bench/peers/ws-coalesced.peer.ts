import type { PeerServer } from './peer.js';
import { startWs } from './ws.peer.js';

/**
 * Raw `ws` as a careful hand-written server runs it: the naive peer's rooms and
 * heartbeat, with each socket's writes coalesced into one per tick (cork, then
 * uncork after the tick), the best a server that frames per socket does.
 */
export function start(): Promise<PeerServer> {
  return startWs(true);
}
