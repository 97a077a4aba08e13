/**
 * The $SYS client events of one shard: `$SYS/brokers/{node}/clients/{clientid}/connected` and
 * `.../disconnected` with EMQX's JSON payloads, published by the shard that owns the client from
 * its `client.connected` / `client.disconnected` hooks. The periodic set (version, uptime,
 * stats/*, metrics/*) is the supervisor's (src/supervisor/sys_publisher.ts), which gathers every
 * shard's numbers by request/reply. Clients can read $SYS (per ACL) but never write it
 * (publish_rules.ts).
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { Message } from "../mqtt/mod.ts";
import type { Clock } from "./clock.ts";
import type { ClientFacts, Hooks } from "./hooks.ts";

const encoder = new TextEncoder();

/** The IP part of "ip:port" (IPv6 in brackets or not). */
function hostOf(peer: string): string {
  const at = peer.lastIndexOf(":");
  const host = at < 0 ? peer : peer.slice(0, at);
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Adds the connected/disconnected event publishers to `hooks`, as the config enables them. */
export function addSysEvents(
  hooks: Hooks,
  config: Config,
  clock: Clock,
  publish: (m: Message) => void,
): void {
  const prefix = `$SYS/brokers/${config.node.name}/clients/`;
  const pub = (clientId: string, event: string, body: Record<string, unknown>) => {
    const now = clock.now();
    publish({
      topic: `${prefix}${clientId}/${event}`,
      payload: encoder.encode(JSON.stringify(body)),
      qos: 0,
      retain: false,
      properties: {},
      origin: "",
      expiresAt: 0,
      timestamp: now,
    });
  };
  if (config.sysTopics.clientConnected) {
    hooks.add("client.connected", function sysConnected(c: ClientFacts) {
      const now = clock.now();
      pub(c.clientId, "connected", {
        clientid: c.clientId,
        username: c.username ?? null,
        ipaddress: hostOf(c.peer),
        proto_ver: c.protocolVersion,
        keepalive: c.keepalive,
        clean_start: c.cleanStart,
        connected_at: now,
        ts: now,
      });
    });
  }
  if (config.sysTopics.clientDisconnected) {
    hooks.add("client.disconnected", function sysDisconnected(c: ClientFacts, reason: string) {
      const now = clock.now();
      pub(c.clientId, "disconnected", {
        clientid: c.clientId,
        username: c.username ?? null,
        reason,
        disconnected_at: now,
        ts: now,
      });
    });
  }
}
