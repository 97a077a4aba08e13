/**
 * 18 partitions: a client id keeps its partition when the shard count changes (issue 11, item 5).
 * The broker logs, at debug level, the partition and shard it placed each client on; the same
 * client ids connect to brokers started with 1, 2, 3 and 4 shards, and every line must show the
 * partition of the documented rule (FNV-1a 32 of the UTF-8 id modulo 1024, the same whatever
 * the shard count) and the shard that owns that partition's range.
 */

import { assertEquals } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  connect,
  partitionOf,
  runTag,
  shardOfKey,
} from "./_helpers/clients.ts";
import { withBroker } from "./_helpers/suite.ts";
import { brokerKind } from "./_helpers/broker.ts";
import type { MqttClient } from "mqtt";

const PLACED = /Client (.+): partition (\d+) of 1024, shard (\d+) of (\d+)/;

/** The placement lines logged so far: client id → [partition, shard, shards]. */
function placements(logs: string): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  for (const line of logs.split("\n")) {
    const m = PLACED.exec(line);
    if (m) out.set(m[1]!, [Number(m[2]), Number(m[3]), Number(m[4])]);
  }
  return out;
}

Deno.test({
  name: "18 partitions: a client id keeps its partition whatever the shard count",
  // Culex's placement log line; Mosquitto has no shards.
  ignore: brokerKind() === "mosquitto",
}, async () => {
  const tag = runTag();
  // One id on each shard of four, and long and non-ASCII ones (the hash is over UTF-8 bytes).
  const ids = [0, 1, 2, 3].map((s) => clientIdForShard(s, 4, `${tag}s${s}`));
  ids.push(`${tag}-client-with-a-longer-id`, `${tag}é温度`);
  const seen = new Map<string, number>();
  for (const shards of [1, 2, 3, 4]) {
    await withBroker({ shards, sets: ["log.level=debug"] }, async (broker) => {
      const clients: MqttClient[] = [];
      try {
        for (const clientId of ids) {
          clients.push(await connect(broker.url, { protocolVersion: 5, clientId }));
        }
        // The broker's log reaches this process on a pipe, the CONNACK on the socket: the last
        // client's line may still be on its way (a loaded full run read the logs without it).
        let placed = placements(broker.logs());
        for (let i = 0; i < 200 && ids.some((id) => !placed.has(id)); i++) {
          await new Promise((r) => setTimeout(r, 50));
          placed = placements(broker.logs());
        }
        for (const id of ids) {
          const got = placed.get(id);
          const want = partitionOf(id);
          assertEquals(got, [want, shardOfKey(id, shards), shards], `${id} with ${shards} shards`);
          const before = seen.get(id);
          if (before !== undefined) assertEquals(want, before, `${id}: partition changed`);
          seen.set(id, want);
        }
      } finally {
        await closeAll(clients);
      }
    });
  }
});
