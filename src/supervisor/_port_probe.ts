/**
 * probeListenerPorts(): each enabled MQTT listener's port is bound and released once before the
 * cluster starts, so a port another process holds stops the node, naming the listener's key,
 * before it dials a seed or accepts a peer (issue 15: the cluster starts before the MQTT
 * listeners, which need it). A probe, not the listener itself: a port taken in the instant
 * between the probe and the listener's bind still fails later, as before. Port 0 (any free port)
 * is not probed.
 */

import type { Config } from "../config/types.ts";

const TYPES = ["tcp", "ssl", "ws", "wss"] as const;

/**
 * Throws `listeners.<type>.<name>.bind: cannot listen on <bind>: <reason>` for the first enabled
 * listener whose port cannot be bound now.
 *
 * @example
 * ```ts ignore
 * probeListenerPorts(config); // before the cluster starts
 * ```
 */
export function probeListenerPorts(config: Config): void {
  for (const type of TYPES) {
    for (const [name, l] of Object.entries(config.listeners[type])) {
      if (!l.enable || l.port === 0) continue;
      try {
        Deno.listen({ hostname: l.host, port: l.port }).close();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(`listeners.${type}.${name}.bind: cannot listen on ${l.bind}: ${why}`);
      }
    }
  }
}
