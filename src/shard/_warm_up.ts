/**
 * The disc retainer's lookup path, run once on a few rows before the shard says ready, its
 * results thrown away: the store worker's plan, read and packing, the page's transfer and
 * unpacking, each row's decode, and the delivery of the decoded messages (Session.deliver and
 * the PUBLISH encoder, in both protocol versions' layouts) to a session no client has, whose
 * output encodes into a scratch buffer. Why: the first `sensor/+/temp` after a start ran each of
 * these for the first time in its isolate (cold JIT: 6-9 ms to decode 1,000 rows against 2-4 ms
 * warm, 7-14 ms to deliver them against 2-4 ms; bench/README.md, "sensor/+/temp"), which made it
 * miss issue 13's 50 ms. Read only, bounded (WARM_ROWS rows per filter, messages over
 * WARM_MAX_BYTES skipped), and nothing leaves the isolate. Private to src/shard/ (shard.ts).
 *
 * @module
 */

import type { MqttConfig } from "../config/types.ts";
import {
  decodeMessage,
  type Message,
  type PublishFields,
  publishSize,
  remainingExpirySeconds,
  writePublish,
} from "../mqtt/mod.ts";
import type { ShardStore } from "./durable.ts";
import { Session, type SessionOutput } from "./session.ts";

/**
 * The shapes a lookup's read takes: a plan whose SQL decides the match (`#`) and one that tests
 * `matches()` per row (single-level wildcards); a third is derived from the first row read.
 */
const WARM_FILTERS = ["#", "+/+/+"] as const;
/** Rows per filter: enough for V8 to compile the per-row code (a few ms in all). */
const WARM_ROWS = 300;
/** A bigger message is not encoded (the scratch buffer stays small). */
const WARM_MAX_BYTES = 64 * 1024;

/** Runs the path; returns how many PUBLISH bytes it encoded (for tests). */
export async function warmRetainedPath(
  store: ShardStore,
  mqtt: MqttConfig,
  now: number,
): Promise<number> {
  const messages: Message[] = [];
  const filters: string[] = [...WARM_FILTERS];
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i]!;
    // A failed read is left to the real lookups to report.
    const page = await store.client.readAsync({
      kind: "retained",
      filter,
      cursor: null,
      limit: WARM_ROWS,
    }).catch(() => null);
    for (const row of page?.rows ?? []) messages.push(decodeMessage(row.body, row.topic));
    // The shape of the common lookup (`sensor/+/temp`: literal levels around a `+`, a plan on
    // a level index), from the first topic read: its index's pages and statement warm too.
    if (i === 0 && messages.length > 0) {
      const levels = messages[0]!.topic.split("/");
      if (levels.length >= 3 && !levels[0]!.startsWith("$")) {
        levels[1] = "+";
        filters.push(levels.join("/"));
      }
    }
  }
  if (messages.length === 0) return 0;
  const scratch = new Uint8Array(WARM_MAX_BYTES);
  let written = 0;
  for (const protocolVersion of [4, 5]) {
    const output: SessionOutput = {
      sendPublish(packetId, d, dup) {
        const f: PublishFields = {
          qos: d.qos,
          retain: d.retain,
          dup,
          packetId,
          protocolVersion,
          subscriptionIds: d.subscriptionIds,
          expirySeconds: protocolVersion === 5 ? remainingExpirySeconds(d.message, now) : 0,
        };
        const size = publishSize(d.message, f);
        if (size <= WARM_MAX_BYTES) {
          writePublish(d.message, f, scratch.subarray(0, size));
          written += size;
        }
        return true;
      },
      sendPubrel() {},
    };
    // Not in the registry: no client, no route, no store row; gone after this loop.
    const session = new Session("", mqtt, 0);
    session.attach(output, 65535);
    for (const message of messages) {
      session.deliver({ message, qos: 0, retain: true, subscriptionIds: [] }, now);
    }
  }
  return written;
}
