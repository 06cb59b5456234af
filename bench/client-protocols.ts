/** What a protocol needs of a client socket: sending text frames. */
export interface TextSender {
  send(text: string): void;
}

/** How a bench client speaks to one peer: the URL, joining a room, reading frames. */
export interface ClientProtocol {
  path: string;
  /**
   * The first bytes of a frame that holds one broadcast message: such frames are
   * counted unread, unless their send times are wanted (latency).
   */
  countPrefix?: string;
  /**
   * Whether each counted frame's bytes, socket and arrival are recorded too (the
   * presence storm's figures); fan-out clients count and nothing more.
   */
  recordsFrames?: boolean;
  /** Called for every text frame until `joined` returns true. */
  handshake(socket: TextSender, frame: string, room: string): boolean;
  /**
   * How many broadcast messages a frame holds (0 for anything else), and, when
   * `stamps` is given, pushes each message's send time into it.
   */
  messages(socket: TextSender, frame: string, stamps?: number[]): number;
}

const raw: ClientProtocol = {
  path: '/ws',
  countPrefix: '{"event":"msg"',
  handshake(socket, frame, room) {
    if (frame === '') socket.send(JSON.stringify({ join: room }));
    return frame.startsWith('{"joined"');
  },
  messages(_socket, frame, stamps) {
    if (!frame.startsWith('{"event":"msg"')) return 0;
    if (stamps) stamps.push((JSON.parse(frame) as { data: { t: number } }).data.t);
    return 1;
  },
};

const socketio: ClientProtocol = {
  path: '/socket.io/?EIO=4&transport=websocket',
  countPrefix: '42["msg"',
  handshake(socket, frame, room) {
    if (frame.startsWith('0')) socket.send('40');
    else if (frame.startsWith('40')) socket.send(`42${JSON.stringify(['join', room])}`);
    else if (frame === '2') socket.send('3');
    return frame.startsWith('42["joined"');
  },
  messages(socket, frame, stamps) {
    if (frame === '2') {
      socket.send('3'); // engine.io's heartbeat is the client's to answer
      return 0;
    }
    if (!frame.startsWith('42["msg"')) return 0;
    if (stamps) stamps.push((JSON.parse(frame.slice(2)) as [string, { t: number }])[1].t);
    return 1;
  },
};

/** How many times `needle` occurs in `text`. */
function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    count++;
  }
  return count;
}

/** A plain nest-realtime client: one WebSocket frame per message, as every peer sends. */
const nestRealtime: ClientProtocol = {
  path: '/ws',
  countPrefix: '{"event":"msg"',
  handshake(socket, frame, room) {
    if (frame.startsWith('{"event":"rt:connected"')) {
      socket.send(JSON.stringify({ event: 'rt:join', data: { room }, id: 1 }));
    }
    return frame.startsWith('{"event":"rt:reply"');
  },
  messages(_socket, frame, stamps) {
    if (!frame.startsWith('{"event":"msg"')) return 0;
    if (stamps) stamps.push((JSON.parse(frame) as { data: { t: number } }).data.t);
    return 1;
  },
};

/**
 * The batched mode (`?rt-batch=1`), like the library's own client: a tick's frames
 * arrive as one `rt:batch` frame. Its figures are a row of their own, compared with
 * no peer that sends a frame per message.
 */
const nestRealtimeBatched: ClientProtocol = {
  path: '/ws?rt-batch=1',
  handshake: nestRealtime.handshake,
  messages(socket, frame, stamps) {
    if (!frame.startsWith('{"event":"rt:batch"'))
      return nestRealtime.messages(socket, frame, stamps);
    // Counting needs no parse (the bench's own messages carry no such text).
    if (!stamps) return occurrences(frame, '{"event":"msg"');
    const batch = (JSON.parse(frame) as { data: { event: string; data: { t: number } }[] }).data;
    let count = 0;
    for (const item of batch) {
      if (item.event !== 'msg') continue;
      count++;
      stamps.push(item.data.t);
    }
    return count;
  },
};

/** Joins following the room's members: counts the `rt:room-presence` diffs. */
const nestRealtimePresence: ClientProtocol = {
  path: '/ws',
  countPrefix: '{"event":"rt:room-presence"',
  recordsFrames: true,
  handshake(socket, frame, room) {
    if (frame.startsWith('{"event":"rt:connected"')) {
      socket.send(JSON.stringify({ event: 'rt:join', data: { room, presence: true }, id: 1 }));
    }
    return frame.startsWith('{"event":"rt:reply"');
  },
  messages: () => 0,
};

export const PROTOCOLS: Record<string, ClientProtocol> = {
  ws: raw,
  'ws-coalesced': raw,
  socketio,
  'nest-realtime': nestRealtime,
  'nest-realtime-batched': nestRealtimeBatched,
  'nest-realtime-presence': nestRealtimePresence,
};
