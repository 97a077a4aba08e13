/**
 * Test helper: one whole node-link frame (header and payload in one buffer), as a peer puts it
 * on the wire. The node writes header and payload apart (PeerLink), so only tests need this.
 */

import { frameHeader } from "../../src/cluster/proto_v1.ts";

/** The bytes of one frame of `type` carrying `payload`. */
export function nodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const h = frameHeader(type, payload.length);
  const out = new Uint8Array(h.length + payload.length);
  out.set(h);
  out.set(payload, h.length);
  return out;
}
