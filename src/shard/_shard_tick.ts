/**
 * What one shard's one-second tick does: keepalive checks, the await-PUBREL timeout, resends to
 * 3.x clients after retry_interval, re-reads of durable rows, and the registry's sweep (session
 * expiry, delayed wills). Private to src/shard/; the Shard arms the timer and flushes the output.
 */

import type { Channel } from "./channel.ts";
import type { ShardServices } from "./shard_services.ts";

/** One tick at `now` over the shard's open channels and sessions. */
export function runTick(svc: ShardServices, channels: ReadonlyMap<number, Channel>, now: number) {
  const mqtt = svc.config.mqtt;
  for (const ch of [...channels.values()]) ch.checkKeepalive(now);
  for (const session of svc.registry.sessions()) {
    for (const [id, at] of session.awaitingRel) {
      if (now - at >= mqtt.awaitRelTimeout) {
        session.releaseRel(id);
        if (session.durable) svc.store?.batch.releaseRel(session.durable.sid, id);
        svc.metrics.add("messages.dropped.await_pubrel_timeout");
      }
    }
  }
  // 3.x clients get unacknowledged messages again after retry_interval; MQTT 5 forbids
  // resending on a live connection [MQTT-4.4.0-1].
  for (const ch of channels.values()) {
    const s = ch.session;
    if (!s || ch.state !== "connected") continue;
    // Durable mode: rows a read did not see yet (held in a commit token) are read again.
    if (s.durable && s.durable.onDisk > 0) s.pumpStore(now);
    if (ch.protocolVersion === 5) continue;
    for (const entry of [...s.stale(now, mqtt.retryInterval)]) s.retry(entry, now);
  }
  svc.registry.sweep(now);
}
