import { expect } from 'vitest';
import { PresenceService, type PresenceState } from '../../lib/index.js';
import { until, type AppFixture } from './fixtures.js';
import { eventIs, type Frame, type TestClient } from './ws-client.js';

// What the presence suites share: states as the protocol writes them, and waits.

export const isPresence = eventIs('rt:presence');

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export function offline(userId: string): PresenceState {
  return { userId, status: 'offline', meta: null, since: null };
}

/** A fresh presence, as it starts. */
export function online(userId: string): PresenceState {
  return { userId, status: 'online', meta: null, since: expect.any(Number) };
}

export function presenceFrame(state: PresenceState): Frame {
  return { event: 'rt:presence', data: state };
}

/** Sends a request and returns the reply's data, failing the test on an error reply. */
export async function ok(client: TestClient, event: string, data?: unknown): Promise<any> {
  const reply = await client.request(event, data);
  expect(reply.error).toBeUndefined();
  return reply.data;
}

/** Asserts that none of these clients has an rt:presence frame waiting, after a quiet `ms`. */
export async function expectNoPresence(clients: TestClient[], ms = 150): Promise<void> {
  await sleep(ms);
  for (const client of clients) expect(await client.collect(isPresence, 0)).toStrictEqual([]);
}

export function presenceOf(rt: AppFixture): PresenceService {
  return rt.app.app.get(PresenceService);
}

/** Closes these clients and waits until the server has forgotten every connection of `userId`. */
export async function closeAll(
  rt: AppFixture,
  userId: string,
  clients: TestClient[],
): Promise<void> {
  await Promise.all(clients.map((client) => client.close()));
  await until(() => rt.hub.connections.countByUser(userId) === 0);
}
