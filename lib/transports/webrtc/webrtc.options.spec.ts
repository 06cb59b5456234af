import * as werift from 'werift';
import { describe, expect, it } from 'vitest';
import { RealtimeConfigError } from '../../options-check.js';
import { resolveRealtimeOptions } from '../../realtime.options.js';
import { peerConfiguration } from './server-peers.js';
import { resolveWebRtcOptions } from './webrtc.options.js';

describe('webrtc options', () => {
  it('are off unless set, and default to no ICE server, VP8 and Opus', () => {
    expect(resolveWebRtcOptions(undefined)).toBeUndefined();
    expect(resolveWebRtcOptions(false)).toBeUndefined();
    expect(resolveWebRtcOptions({})).toEqual({
      iceServers: [],
      maxPeersPerUser: 4,
      maxPeersPerRoom: 50,
      maxPeersPerNode: 500,
      maxChannelsPerPeer: 32,
      maxTracksPerPeer: 4,
      offersPerSecond: 2,
      offerBurst: 5,
      connectTimeout: 15_000,
      closeTimeout: 1_000,
      videoCodecs: ['VP8'],
      audioCodecs: ['opus'],
      hostAddresses: [],
      maxSdpBytes: 65_536,
    });
  });

  it("give server peers no ICE server by default (werift's own default is a public STUN server)", () => {
    expect(werift.defaultPeerConfig.iceServers).not.toEqual([]);
    const config = peerConfiguration(werift, resolveWebRtcOptions({})!);
    expect(config.iceServers).toEqual([]);
    expect(config.codecs!.video!.map((codec) => codec.mimeType)).toEqual(['video/VP8']);
    expect(config.codecs!.audio!.map((codec) => codec.mimeType)).toEqual(['audio/OPUS']);
    const listed = resolveWebRtcOptions({
      iceServers: [{ urls: ['stun:stun.example.com'] }],
      videoCodecs: ['VP8', 'H264'],
      portRange: [40_000, 40_100],
    })!;
    const custom = peerConfiguration(werift, listed);
    expect(custom.iceServers).toEqual([{ urls: ['stun:stun.example.com'] }]);
    expect(custom.codecs!.video!.map((codec) => codec.mimeType)).toEqual([
      'video/VP8',
      'video/h264',
    ]);
    expect(custom.icePortRange).toEqual([40_000, 40_100]);
  });

  it.each([
    [{ iceServers: [{ url: 'stun:x' }] }, 'webrtc.iceServers'],
    [{ iceServers: 'stun:x' }, 'webrtc.iceServers'],
    [{ turn: { urls: ['turn:x'] } }, 'webrtc.turn'],
    [{ turn: { urls: ['turn:x'], secret: 's', ttl: -1 } }, 'webrtc.turn'],
    [{ turn: { urls: [], secret: 's' } }, 'webrtc.turn'],
    [{ maxPeersPerUser: 0 }, 'webrtc.maxPeersPerUser'],
    [{ connectTimeout: 1.5 }, 'webrtc.connectTimeout'],
    [{ closeTimeout: 0 }, 'webrtc.closeTimeout'],
    [{ videoCodecs: ['AV1'] }, 'webrtc.videoCodecs'],
    [{ portRange: [50_000, 40_000] }, 'webrtc.portRange'],
    [{ hostAddresses: [''] }, 'webrtc.hostAddresses'],
    [{ stun: 'x' }, 'webrtc.stun'],
  ])('refuses %j, naming %s', (given, option) => {
    expect(() => resolveWebRtcOptions(given)).toThrow(RealtimeConfigError);
    expect(() => resolveWebRtcOptions(given)).toThrow(`"${option}"`);
  });

  it('bound tracks by a count (0: data channels only), and offers by positive integers', () => {
    expect(resolveWebRtcOptions({ maxTracksPerPeer: 0 })!.maxTracksPerPeer).toBe(0);
    expect(() => resolveWebRtcOptions({ maxTracksPerPeer: -1 })).toThrow(
      '"webrtc.maxTracksPerPeer": expected a non-negative integer',
    );
    expect(() => resolveWebRtcOptions({ offersPerSecond: 0 })).toThrow(
      '"webrtc.offersPerSecond": expected a positive integer',
    );
    expect(() => resolveWebRtcOptions({ offerBurst: 0.5 })).toThrow(
      '"webrtc.offerBurst": expected a positive integer',
    );
  });

  it('needs the WebSocket transport (signaling runs over it)', () => {
    expect(() => resolveRealtimeOptions({ websocket: false, webrtc: {} })).toThrow('"webrtc"');
    expect(() => resolveRealtimeOptions({ webrtc: 'on' as never })).toThrow('"webrtc"');
  });
});
