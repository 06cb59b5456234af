// The protocol's numeric bounds, shared by the server and the client.

/** The longest delay setTimeout keeps (2^31-1 ms): a longer one fires at once. */
export const MAX_TIMER_DELAY = 2_147_483_647;

/** Longest event name accepted, inbound or outbound. */
export const MAX_EVENT_LENGTH = 200;

/** Longest string id of a client's frame. */
export const MAX_ID_LENGTH = 64;

/** A close frame carries at most 123 bytes of reason (RFC 6455 5.5); ws throws on more. */
export const MAX_CLOSE_REASON_BYTES = 123;
