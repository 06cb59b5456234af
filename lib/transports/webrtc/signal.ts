import { fieldsOf } from '../../core/events/event-data.js';
import {
  encodeFrame,
  BuiltinEvent,
  ErrorCode,
  RealtimeError,
  type OutboundFrame,
} from '../../protocol/index.js';

/** The server's own peer, as `to` and `from` of a signal. */
export const SERVER_PEER = 'server';

const DESCRIPTION_TYPES = ['offer', 'answer', 'pranswer', 'rollback'] as const;
const MAX_CANDIDATE_LENGTH = 2_048;
const MAX_PEER_ID_LENGTH = 128;

/** A session description, as `RTCSessionDescriptionInit`. */
export interface SignalDescription {
  readonly type: (typeof DESCRIPTION_TYPES)[number];
  readonly sdp: string;
}

/** An ICE candidate, as `RTCIceCandidateInit` (null: the end of the candidates). */
export interface SignalCandidate {
  readonly candidate: string;
  readonly sdpMid?: string | null;
  readonly sdpMLineIndex?: number | null;
  readonly usernameFragment?: string | null;
}

/** An `rt:signal` from a client, checked: a description or a candidate, for one peer. */
export interface Signal {
  readonly room: string;
  readonly to: string;
  readonly description?: SignalDescription;
  readonly candidate?: SignalCandidate | null;
}

function invalid(message: string): RealtimeError {
  return new RealtimeError(ErrorCode.InvalidData, message);
}

function optionalString(value: unknown, name: string, max: number): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string' || value.length > max) {
    throw invalid(`${name} must be a string of at most ${max} characters`);
  }
  return value;
}

/**
 * Reads the `data` of an `rt:signal` (the room is checked by the caller): `to`, and
 * exactly one of `description` and `candidate`. Only the known fields are kept, so a
 * client passes nothing else to its peer.
 *
 * @throws RealtimeError INVALID_DATA naming the field.
 */
export function signalOf(data: unknown, room: string, maxSdpBytes: number): Signal {
  const fields = fieldsOf(data);
  const { to } = fields;
  if (typeof to !== 'string' || to.length === 0 || to.length > MAX_PEER_ID_LENGTH) {
    throw invalid('to must be a peer id (a connection id, or "server")');
  }
  const hasDescription = fields.description !== undefined;
  const hasCandidate = 'candidate' in fields;
  if (hasDescription === hasCandidate) {
    throw invalid('a signal carries exactly one of description and candidate');
  }
  if (hasDescription)
    return { room, to, description: descriptionOf(fields.description, maxSdpBytes) };
  return { room, to, candidate: candidateOf(fields.candidate) };
}

function descriptionOf(value: unknown, maxSdpBytes: number): SignalDescription {
  const { type, sdp } = fieldsOf(value);
  if (!(DESCRIPTION_TYPES as readonly unknown[]).includes(type)) {
    throw invalid(`description.type must be one of ${DESCRIPTION_TYPES.join(', ')}`);
  }
  if (type === 'rollback' && (sdp === undefined || sdp === '')) return { type, sdp: '' };
  if (typeof sdp !== 'string' || sdp.length === 0 || Buffer.byteLength(sdp) > maxSdpBytes) {
    throw invalid(`description.sdp must be a non-empty string of at most ${maxSdpBytes} bytes`);
  }
  return { type: type as SignalDescription['type'], sdp };
}

function candidateOf(value: unknown): SignalCandidate | null {
  if (value === null) return null;
  const fields = fieldsOf(value);
  const candidate = optionalString(fields.candidate, 'candidate.candidate', MAX_CANDIDATE_LENGTH);
  if (typeof candidate !== 'string') throw invalid('candidate.candidate must be a string');
  const { sdpMLineIndex } = fields;
  if (
    sdpMLineIndex !== undefined &&
    sdpMLineIndex !== null &&
    (!Number.isSafeInteger(sdpMLineIndex) ||
      (sdpMLineIndex as number) < 0 ||
      (sdpMLineIndex as number) > 1_000)
  ) {
    throw invalid('candidate.sdpMLineIndex must be an integer from 0 to 1000');
  }
  const result: Record<string, unknown> = { candidate };
  const sdpMid = optionalString(fields.sdpMid, 'candidate.sdpMid', 64);
  const fragment = optionalString(fields.usernameFragment, 'candidate.usernameFragment', 256);
  if (sdpMid !== undefined) result.sdpMid = sdpMid;
  if (sdpMLineIndex !== undefined) result.sdpMLineIndex = sdpMLineIndex;
  if (fragment !== undefined) result.usernameFragment = fragment;
  return result as unknown as SignalCandidate;
}

/** The frame a signal reaches its peer as. */
export function signalFrame(signal: Signal, from: string, fromUser: string | null): OutboundFrame {
  const { room, description, candidate } = signal;
  const data: Record<string, unknown> = { room, from, fromUser };
  if (description) data.description = description;
  else data.candidate = candidate;
  return encodeFrame({ event: BuiltinEvent.Signal, data });
}

/** @internal For the server peers: a `rt:signal` frame from the server's peer. */
export function fromServer(
  room: string,
  part: Pick<Signal, 'description' | 'candidate'>,
): OutboundFrame {
  return signalFrame({ room, to: '', ...part }, SERVER_PEER, null);
}
