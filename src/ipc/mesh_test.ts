/**
 * Unit tests of the ring mesh wiring (src/ipc/mesh.ts): which ring is whose, and what a rebuild
 * replaces. Creates rings but no isolates.
 */

import { notStrictEqual, strictEqual, throws } from "node:assert/strict";
import { createMesh, rebuildShard } from "./mesh.ts";

Deno.test("createMesh() wires ring i → j as toPeers[j] of i and fromPeers[i] of j", () => {
  const mesh = createMesh(3, 4096);
  strictEqual(mesh.shards.length, 3);
  for (let i = 0; i < 3; i++) {
    const s = mesh.shards[i]!;
    strictEqual(s.supervisorDoorbell, mesh.supervisorDoorbell);
    strictEqual(s.fromPeers[i], null);
    strictEqual(s.toPeers[i], null);
    notStrictEqual(s.fromSupervisor, s.toSupervisor);
    for (let j = 0; j < 3; j++) {
      strictEqual(s.peerDoorbells[j], mesh.shards[j]!.doorbell);
      if (i !== j) strictEqual(s.toPeers[j], mesh.shards[j]!.fromPeers[i]);
    }
  }
  const rings = new Set(mesh.shards.flatMap((s) => s.toPeers.filter((r) => r !== null)));
  strictEqual(rings.size, 6);
});

Deno.test("createMesh() with one shard has no peer rings", () => {
  const mesh = createMesh(1, 4096);
  strictEqual(mesh.shards[0]!.fromPeers.length, 1);
  strictEqual(mesh.shards[0]!.fromPeers[0], null);
  throws(() => createMesh(0, 4096), RangeError);
  throws(() => createMesh(2, 5000), RangeError);
});

Deno.test("rebuildShard() replaces every ring touching the shard and keeps the others", () => {
  const mesh = createMesh(3, 4096);
  const next = rebuildShard(mesh, 1, 4096);
  const [a, b, c] = [next.shards[0]!, next.shards[1]!, next.shards[2]!];
  const old = mesh.shards;
  strictEqual(next.supervisorDoorbell, mesh.supervisorDoorbell);
  notStrictEqual(b.doorbell, old[1]!.doorbell);
  notStrictEqual(b.fromSupervisor, old[1]!.fromSupervisor);
  notStrictEqual(b.toSupervisor, old[1]!.toSupervisor);
  for (const s of next.shards) strictEqual(s.peerDoorbells[1], b.doorbell);
  // Rings touching 1 are new and still paired.
  notStrictEqual(a.toPeers[1], old[0]!.toPeers[1]);
  strictEqual(a.toPeers[1], b.fromPeers[0]);
  strictEqual(b.toPeers[0], a.fromPeers[1]);
  strictEqual(c.toPeers[1], b.fromPeers[2]);
  strictEqual(b.toPeers[2], c.fromPeers[1]);
  // Rings between 0 and 2 are untouched, and so are their supervisor rings.
  strictEqual(a.toPeers[2], old[0]!.toPeers[2]);
  strictEqual(c.toPeers[0], old[2]!.toPeers[0]);
  strictEqual(a.fromSupervisor, old[0]!.fromSupervisor);
  strictEqual(a.doorbell, old[0]!.doorbell);
  // The old mesh is not modified.
  strictEqual(old[0]!.toPeers[1], old[1]!.fromPeers[0]);
  notStrictEqual(old[0]!.peerDoorbells[1], b.doorbell);
  throws(() => rebuildShard(mesh, 3, 4096), RangeError);
});
