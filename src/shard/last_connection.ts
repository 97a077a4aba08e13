/**
 * LastConnection: what a persistent session remembers of the connection that ended, so that
 * GET /api/v5/clients/{clientid} and `ctl clients show` describe a disconnected client as EMQX
 * does (its channel info outlives the connection: username, address, protocol, keepalive and the
 * connection's counters). Taken once at the disconnect, about 300 bytes, and only for sessions
 * that outlive their connection; a new connection replaces it.
 *
 * @module
 */

/** The connection's facts and counters that a client's details show. */
export interface ConnectionView {
  readonly username: string | undefined;
  readonly peer: string;
  readonly listener: string;
  readonly connectedAt: number;
  readonly cleanStart: boolean;
  readonly keepalive: number;
  readonly protocolVersion: 3 | 4 | 5;
  readonly recvCnt: number;
  readonly recvOct: number;
  readonly recvPkt: number;
  readonly recvQos0: number;
  readonly recvQos1: number;
  readonly recvQos2: number;
  readonly recvDropped: number;
  readonly sendPkt: number;
  readonly sendOct: number;
  readonly sendQos0: number;
  readonly sendQos1: number;
  readonly sendQos2: number;
}

/**
 * A copy of `c`'s view (a Channel is one): plain fields, so the session does not keep the
 * connection's object alive.
 *
 * @example
 * ```ts
 * import { lastConnectionOf } from "./last_connection.ts";
 * import assert from "node:assert/strict";
 * const live = {
 *   username: "u", peer: "127.0.0.1:1", listener: "tcp:default", connectedAt: 5,
 *   cleanStart: false, keepalive: 60, protocolVersion: 5 as const, recvCnt: 1, recvOct: 2,
 *   recvPkt: 3, recvQos0: 0, recvQos1: 1, recvQos2: 0, recvDropped: 0, sendPkt: 4, sendOct: 9,
 *   sendQos0: 0, sendQos1: 0, sendQos2: 0, extra: "not copied",
 * };
 * const kept = lastConnectionOf(live);
 * assert.equal(kept.recvPkt, 3);
 * assert.equal("extra" in kept, false);
 * ```
 */
export function lastConnectionOf(c: ConnectionView): ConnectionView {
  return {
    username: c.username,
    peer: c.peer,
    listener: c.listener,
    connectedAt: c.connectedAt,
    cleanStart: c.cleanStart,
    keepalive: c.keepalive,
    protocolVersion: c.protocolVersion,
    recvCnt: c.recvCnt,
    recvOct: c.recvOct,
    recvPkt: c.recvPkt,
    recvQos0: c.recvQos0,
    recvQos1: c.recvQos1,
    recvQos2: c.recvQos2,
    recvDropped: c.recvDropped,
    sendPkt: c.sendPkt,
    sendOct: c.sendOct,
    sendQos0: c.sendQos0,
    sendQos1: c.sendQos1,
    sendQos2: c.sendQos2,
  };
}
