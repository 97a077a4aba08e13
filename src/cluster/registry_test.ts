import assert from "node:assert/strict";
import { FieldReader, FieldWriter } from "../ipc/mod.ts";
import type { Links } from "./links.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame, REG_VERSION } from "./proto_v1.ts";
import { ClientRegistry } from "./registry.ts";

/** A peer link that only needs a name and a sink (the registry sends on it at link up). */
function peerLink(peer: string): PeerLink {
  return { peer, isUp: true, send: () => {} } as unknown as PeerLink;
}

/** The Links surface the registry uses: the linked peers, lookup by name, broadcast. */
function links(peers: readonly PeerLink[]): Links {
  const linked = new Map(peers.map((l) => [l.peer!, l]));
  return { linked, get: (n: string) => linked.get(n), broadcast: () => {} } as unknown as Links;
}

function ids(type: number, list: readonly string[]): [number, FieldReader] {
  const w = new FieldWriter().u8(REG_VERSION);
  if (type === Frame.RegAdd || type === Frame.RegDel) {
    w.u32(list.length);
    for (const id of list) w.str(id);
  }
  return [type, new FieldReader(w.finish())];
}

function send(reg: ClientRegistry, link: PeerLink, type: number, list: readonly string[] = []) {
  const [t, r] = ids(type, list);
  assert.ok(reg.frame(link, t, r));
}

Deno.test("ClientRegistry indexes each node's claims: a node's drop leaves the others", () => {
  const a = peerLink("a@h");
  const b = peerLink("b@h");
  const reg = new ClientRegistry(links([a, b]), 100);
  send(reg, a, Frame.RegAdd, ["x", "y", "shared"]);
  send(reg, b, Frame.RegAdd, ["z", "shared"]);
  assert.deepEqual([...reg.claimsOf("a@h")].sort(), ["shared", "x", "y"]);
  assert.deepEqual([...reg.claimsOf("b@h")].sort(), ["shared", "z"]);
  // "shared" is claimed by both (a session moving): b's claim is the last, a's kept apart.
  assert.equal(reg.entryOf("shared"), "b@h");
  assert.equal(reg.size, 5, "the bound counts every claim once, as before the index");

  // b goes (autoclean, leave, force-leave): its ids go, a's earlier claim becomes the entry.
  reg.dropNode("b@h");
  assert.deepEqual([...reg.claimsOf("b@h")], []);
  assert.equal(reg.entryOf("z"), undefined);
  assert.equal(reg.entryOf("shared"), "a@h");
  assert.deepEqual([...reg.claimsOf("a@h")].sort(), ["shared", "x", "y"]);
  assert.equal(reg.size, 3);
});

Deno.test("ClientRegistry: REG_DEL and REG_RESET keep the index equal to the entries", () => {
  const a = peerLink("a@h");
  const b = peerLink("b@h");
  const reg = new ClientRegistry(links([a, b]), 100);
  send(reg, a, Frame.RegAdd, ["m"]);
  send(reg, b, Frame.RegAdd, ["m"]);
  // a no longer holds m (its earlier claim goes); b still names it.
  send(reg, a, Frame.RegDel, ["m"]);
  assert.deepEqual([...reg.claimsOf("a@h")], []);
  assert.equal(reg.entryOf("m"), "b@h");
  // a claims m again: the last claim wins, b's is kept apart and stays in b's index.
  send(reg, a, Frame.RegAdd, ["m"]);
  assert.equal(reg.entryOf("m"), "a@h");
  assert.deepEqual([...reg.claimsOf("b@h")], ["m"]);
  // b's full set on link up: REG_RESET drops only b's claims, then its pages come again.
  send(reg, b, Frame.RegReset);
  assert.deepEqual([...reg.claimsOf("b@h")], []);
  assert.equal(reg.entryOf("m"), "a@h");
  send(reg, b, Frame.RegAdd, ["n1", "n2"]);
  send(reg, b, Frame.RegEnd);
  assert.deepEqual([...reg.claimsOf("b@h")].sort(), ["n1", "n2"]);
  assert.equal(reg.size, 3);
  // The lookups after a full set: the named node alone; an unknown id asks no one.
  assert.deepEqual(reg.whoToAsk("n1").first.map((l) => l.peer), ["b@h"]);
  assert.deepEqual(reg.lookups, { owner: 1, peers: 0, none: 0 });
});

Deno.test("ClientRegistry at registry_max: refused ids are not indexed", () => {
  const a = peerLink("a@h");
  const reg = new ClientRegistry(links([a]), 2);
  send(reg, a, Frame.RegAdd, ["p", "q", "r"]);
  send(reg, a, Frame.RegEnd);
  assert.equal(reg.refused, 1);
  assert.deepEqual([...reg.claimsOf("a@h")].sort(), ["p", "q"]);
  // Overflowed: a lookup that finds nothing asks every linked peer.
  assert.deepEqual(reg.whoToAsk("r").first.map((l) => l.peer), ["a@h"]);
  assert.deepEqual(reg.lookups, { owner: 0, peers: 1, none: 0 });
  reg.dropNode("a@h");
  assert.equal(reg.size, 0);
  assert.deepEqual(reg.whoToAsk("r").first, [], "the overflow went with the node");
  assert.deepEqual(reg.lookups, { owner: 0, peers: 1, none: 1 });
});

Deno.test("ClientRegistry drops one node's claims without reading the others' entries", () => {
  // 200,000 entries of another node, 10 of this one: the drop touches only the 10 (a pass over
  // the map would read all 200,010; checked by counting, not by timing).
  const a = peerLink("a@h");
  const b = peerLink("b@h");
  const reg = new ClientRegistry(links([a, b]), 1_000_000);
  const many: string[] = [];
  for (let i = 0; i < 200_000; i++) many.push(`c${i}`);
  for (let i = 0; i < many.length; i += 1_000) send(reg, a, Frame.RegAdd, many.slice(i, i + 1_000));
  send(reg, b, Frame.RegAdd, Array.from({ length: 10 }, (_, i) => `d${i}`));
  // Counts every Map read during the drop (restored right after).
  let reads = 0;
  const get = Map.prototype.get;
  const iter = Map.prototype[Symbol.iterator];
  Map.prototype.get = function (this: Map<unknown, unknown>, k: unknown) {
    reads++;
    return get.call(this, k);
  };
  Map.prototype[Symbol.iterator] = function (this: Map<unknown, unknown>) {
    reads += this.size;
    return iter.call(this);
  };
  try {
    reg.dropNode("b@h");
  } finally {
    Map.prototype.get = get;
    Map.prototype[Symbol.iterator] = iter;
  }
  assert.ok(reads < 100, `map reads for a drop of 10 ids: ${reads}`);
  assert.equal(reg.size, 200_000);
});
