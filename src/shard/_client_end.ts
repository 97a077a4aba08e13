/**
 * A client's connection on this shard ended by a decision made elsewhere: an administrator's kick
 * (API, ctl) or the client connecting on another node. Private to src/shard/; acts through the
 * registry and the client's Channel.
 */

import { ReasonCode } from "../mqtt/mod.ts";
import { isMoving } from "./_session_move.ts";
import type { ShardServices } from "./shard_services.ts";

/**
 * The client connected on another node: its connection here ends with 0x8E (session taken
 * over) and its session here is discarded, unless it is moving to that node (docs/cluster.md).
 */
export function takenOverElsewhere(svc: ShardServices, clientId: string): void {
  const ch = svc.registry.channelOf(clientId);
  if (ch) ch.disconnect(ReasonCode.SessionTakenOver, "takenover");
  // The node taking the session over sends CLIENT_OPEN too, before its TAKEOVER_END: the
  // session stays until END hands its pendings over (or the move times out).
  if (isMoving(svc.registry, clientId)) return;
  if (svc.registry.discard(clientId)) {
    svc.log.info("Client {clientId} connected on another node: session discarded here", {
      clientId,
    });
  }
}

/** Ends a client's connection as an administrative action (MQTT 5: 0x98); false if none. */
export function kick(svc: ShardServices, clientId: string): boolean {
  const ch = svc.registry.channelOf(clientId);
  if (!ch) return false;
  ch.disconnect(ReasonCode.AdministrativeAction, "kicked");
  return true;
}
