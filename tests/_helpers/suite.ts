/**
 * Test helper: the matrix every integration suite runs (shard counts × protocol versions) and a
 * wrapper that gives a test body one broker and always stops it.
 */

import { assertEquals } from "./assert.ts";
import type { MqttClient } from "mqtt";
import { type BrokerHandle, startBroker, type StartBrokerOptions } from "./broker.ts";
import { clientIdForShard, connect, disconnect } from "./clients.ts";

/** Shard counts each suite runs with: 1, and 4 so that every cross-shard path is taken. */
export const SHARD_COUNTS: readonly number[] = [1, 4];
/** MQTT protocol levels each behaviour runs with: 4 = 3.1.1, 5 = 5.0. */
export const VERSIONS: readonly (4 | 5)[] = [4, 5];

/**
 * Starts a broker, runs body with it, stops it (always). When body succeeded, also asserts that
 * the broker exited 0 on SIGTERM (issue #2: stop accepting, close connections, exit 0).
 */
export async function withBroker(
  opts: StartBrokerOptions,
  body: (broker: BrokerHandle) => Promise<void>,
): Promise<void> {
  const broker = await startBroker(opts);
  let ok = false;
  let code = -1;
  try {
    await body(broker);
    ok = true;
  } finally {
    code = await broker.stop();
  }
  if (ok) assertEquals(code, 0, `broker exit code after SIGTERM; logs:\n${broker.logs()}`);
}

/** A subscriber and a publisher on different shards (when shards > 1). */
export interface ClientPair {
  sub: MqttClient;
  pub: MqttClient;
  subId: string;
  pubId: string;
}

/**
 * Connects a subscriber whose id hashes to shard 0 and a publisher whose id hashes to shard 1
 * (mod shards), so that with 4 shards every message crosses a shard boundary.
 */
export async function connectPair(
  url: string,
  version: 4 | 5,
  shards: number,
  prefix: string,
): Promise<ClientPair> {
  const subId = clientIdForShard(0, shards, `${prefix}s`);
  const pubId = clientIdForShard(1, shards, `${prefix}p`);
  const sub = await connect(url, { protocolVersion: version, clientId: subId });
  try {
    const pub = await connect(url, { protocolVersion: version, clientId: pubId });
    return { sub, pub, subId, pubId };
  } catch (e) {
    await disconnect(sub);
    throw e;
  }
}
