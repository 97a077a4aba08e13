/**
 * Publish from outside a client (HTTP API, $SYS) as BrokerControl.publish does it: each message
 * to the shard its topic hashes to, one request per shard, the reason codes back in the order
 * asked. Private to src/supervisor/ (PublishRequest is re-exported by broker_control.ts); holds no
 * state.
 */

import type { ShardRpc } from "./shard_rpc.ts";

/** One message of publish(): EMQX's POST /publish body, payload as text or base64. */
export interface PublishRequest {
  readonly topic: string;
  readonly payload?: string;
  readonly encoding?: "plain" | "base64";
  readonly qos?: number;
  readonly retain?: boolean;
  readonly message_expiry_interval?: number;
  /** MQTT 5 properties, EMQX's snake_case names (payload_format_indicator, content_type...). */
  readonly properties?: Readonly<Record<string, unknown>>;
  /** Who the message is from (EMQX: "http_api"). */
  readonly from?: string;
}

/** See BrokerControl.publish: one reason code per message, in order. */
export async function publishAcross(
  rpc: ShardRpc,
  shardOf: (topic: string) => number,
  messages: readonly PublishRequest[],
  source: "api" | "sys",
): Promise<number[]> {
  const byShard = new Map<number, number[]>();
  messages.forEach((m, i) => {
    const shard = shardOf(m.topic);
    const list = byShard.get(shard) ?? [];
    list.push(i);
    byShard.set(shard, list);
  });
  const codes: number[] = new Array(messages.length).fill(0);
  await Promise.all([...byShard].map(async ([shard, idx]) => {
    const answer = await rpc.call<number[]>(shard, "publish", {
      source,
      messages: idx.map((i) => messages[i]),
    });
    idx.forEach((i, k) => codes[i] = answer[k] ?? 0x80);
  }));
  return codes;
}
