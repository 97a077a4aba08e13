import assert from "node:assert/strict";
import type { Config } from "../config/types.ts";
import { FieldReader, FieldWriter } from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import type { Links } from "./links.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";
import { Takeovers } from "./takeover.ts";

/** A link that keeps the keys of the TAKEOVER_BEGIN frames sent on it. */
function peerLink(peer: string): PeerLink & { begins: number[] } {
  const begins: number[] = [];
  const send = (type: number, parts: Uint8Array[]) => {
    if (type === Frame.TakeoverBegin) begins.push(new FieldReader(parts[0]!).u32());
  };
  return { peer, isUp: true, send, begins } as unknown as PeerLink & { begins: number[] };
}

function reply(t: Takeovers, link: PeerLink, key: number, body: string): void {
  const payload = new FieldWriter().u32(key).str(body).finish();
  assert.ok(t.frame(link, Frame.TakeoverReply, new FieldReader(payload)));
}

Deno.test("Takeovers: the named node has no session, the others are asked and it is counted", () => {
  const answers: string[] = [];
  const host = {
    shardCount: 1,
    shardOf: () => 0,
    toShard: (_shard: number, _kind: number, parts: Uint8Array[]) => {
      const r = new FieldReader(parts[0]!);
      r.u32();
      answers.push(`${r.str()} from ${r.str()}`);
    },
    request: () => Promise.resolve(null),
  } as unknown as ClusterHost;
  const config = { cluster: { takeoverTimeout: 60_000 } } as unknown as Config;
  const owner = peerLink("a@h");
  const other = peerLink("b@h");
  const t = new Takeovers(config, host, { linked: new Map() } as unknown as Links);
  try {
    // Found at the owner: no fallback.
    t.begin(0, 1, "x", [owner], [other]);
    reply(t, owner, owner.begins[0]!, "{}");
    assert.deepEqual([answers, t.ownerFallbacks, other.begins.length], [["{} from a@h"], 0, 0]);
    // The owner had none (the session had just moved on): the others are asked once more.
    t.begin(0, 2, "y", [owner], [other]);
    reply(t, owner, owner.begins[1]!, "");
    assert.equal(t.ownerFallbacks, 1);
    assert.equal(other.begins.length, 1, "asked the others");
    reply(t, other, other.begins[0]!, "{}");
    assert.deepEqual(answers, ["{} from a@h", "{} from b@h"]);
  } finally {
    t.stop();
  }
});
