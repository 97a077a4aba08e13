/**
 * Test helper for the session suites (05): connect options for a persistent and for a clean
 * session per protocol version, and a way to leave no session behind. Owns no state.
 */

import { connect, type ConnectOptions, disconnect } from "./clients.ts";

/** MQTT 5 Session Expiry Interval used for persistent sessions (seconds). */
export const EXPIRY_S = 300;

/** Options for a persistent session: clean 0 (3.1.1) / clean start 0 + expiry (5.0). */
export function persistent(v: 4 | 5, clientId: string): ConnectOptions {
  return v === 5
    ? {
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: EXPIRY_S },
    }
    : { protocolVersion: 4, clientId, clean: false };
}

/** Options that discard any session: clean 1 (3.1.1) / clean start 1, expiry 0 (5.0). */
export function clean(v: 4 | 5, clientId: string): ConnectOptions {
  return { protocolVersion: v, clientId, clean: true };
}

/** Connects with a clean session and leaves, so that a persistent session is gone. */
export async function discardSession(url: string, v: 4 | 5, clientId: string): Promise<void> {
  await disconnect(await connect(url, clean(v, clientId)));
}
