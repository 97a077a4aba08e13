/**
 * Keeping messages: what stores that hold a Message beyond the current pass (Retainer, MQueue,
 * DelayedPublish) call so that a stored message does not pin the buffer it was decoded from. A
 * decoded PUBLISH's payload (and correlation data) is a view into the ring record it arrived in:
 * up to 64 KiB of one socket read, which may hold many other packets. Ten thousand retained
 * 10-byte messages, each decoded from its own read, would otherwise hold 640 MB. Private to
 * src/shard/; pure (no I/O). The message path that delivers at once never calls it.
 */

import type { Message } from "../mqtt/mod.ts";

/**
 * Bytes a kept view may pin beyond itself before it is copied out. Views into a record that is
 * mostly the message itself (a routed or retained record: topic, origin and properties around
 * the payload) stay views, so a big message is not copied again to save a few bytes.
 */
const SLACK = 1024;

/** True when `view` keeps alive more than itself and SLACK bytes. */
function pins(view: Uint8Array): boolean {
  // Only stores call this, never the delivery path: the `.buffer` read (which gives a small
  // on-heap array a backing store of its own) is paid once per stored message.
  return view.buffer.byteLength - view.byteLength > SLACK;
}

// One-entry memo: a message queued for many subscribers (fan-out to offline sessions, one
// synchronous dispatch) is copied once, not once per queue. Emptied in a microtask so that it
// never keeps a read alive past the pass (a WeakRef per copy instead cost a third more).
let lastIn: Message | null = null;
let lastOut: Message | null = null;
let clearing = false;

function forget(): void {
  lastIn = null;
  lastOut = null;
  clearing = false;
}

/**
 * `m` itself when it pins no more than itself (plus SLACK), otherwise a copy whose payload and
 * correlation data own their bytes. Everything else (strings, numbers) is shared.
 *
 * @example
 * ```ts
 * import { keepMessage } from "./_keep.ts";
 * import assert from "node:assert/strict";
 * const read = new Uint8Array(65536); // one socket read
 * const m = {
 *   topic: "t", payload: read.subarray(100, 110), qos: 0 as const, retain: true,
 *   properties: {}, origin: "c", expiresAt: 0, timestamp: 0,
 * };
 * const kept = keepMessage(m);
 * assert.ok(kept.payload.buffer.byteLength === 10 && keepMessage(kept) === kept);
 * ```
 */
export function keepMessage(m: Message): Message {
  const cd = m.properties.correlationData;
  const copyPayload = pins(m.payload);
  const copyCd = cd !== undefined && pins(cd);
  if (!copyPayload && !copyCd) return m;
  if (lastIn === m && lastOut !== null) return lastOut;
  const kept: Message = {
    ...m,
    payload: copyPayload ? m.payload.slice() : m.payload,
    properties: copyCd ? { ...m.properties, correlationData: cd.slice() } : m.properties,
  };
  lastIn = m;
  lastOut = kept;
  if (!clearing) {
    clearing = true;
    queueMicrotask(forget);
  }
  return kept;
}
