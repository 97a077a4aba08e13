/**
 * Test helper for the MQTT 5 property suites (11): fresh client ids on a chosen shard, and raw v5
 * subscribers (shard 0) and publishers (shard 1) of one broker, so that with several shards every
 * message crosses a shard boundary. Owns only the id counter of the suite that made it.
 */

import { assertEquals } from "./assert.ts";
import { clientIdForShard } from "./clients.ts";
import {
  openRaw5,
  parseSubAck5,
  type Property,
  subscribe5Packet,
  type Subscription5,
} from "./mqtt5.ts";
import type { RawClient } from "./raw_client.ts";

/** What raw5Clients() returns; the caller closes every RawClient it gets. */
export interface Raw5Clients {
  /** A fresh client id on `shard` (mod the broker's shards), named after `p`. */
  id(shard: number, p: string): string;
  /** A raw v5 subscriber on shard 0; each filter is subscribed in its own SUBSCRIBE. */
  rawSub(
    filters: readonly (Subscription5 & { props?: Property[] })[],
    connectProps?: Property[],
  ): Promise<RawClient>;
  /** A raw v5 publisher on shard 1. */
  rawPub(): Promise<RawClient>;
}

/** Raw v5 clients of the broker on `port` with `shards` shards; ids start with `prefix`. */
export function raw5Clients(port: number, shards: number, prefix: string): Raw5Clients {
  let seq = 0;
  const id = (shard: number, p: string) => clientIdForShard(shard, shards, `${prefix}${p}${seq++}`);
  return {
    id,
    async rawSub(filters, connectProps = []) {
      const { raw } = await openRaw5(port, { clientId: id(0, "rs"), props: connectProps });
      let pid = 1;
      for (const f of filters) {
        await raw.send(subscribe5Packet(pid, [f], f.props ?? []));
        const ack = parseSubAck5(await raw.expectPacket(`SUBACK for ${f.topic}`));
        assertEquals([ack.packetId, ack.codes], [pid, [f.qos]], `SUBACK for ${f.topic}`);
        pid++;
      }
      return raw;
    },
    async rawPub() {
      return (await openRaw5(port, { clientId: id(1, "rp") })).raw;
    },
  };
}
