/**
 * Unit tests of payload alignment on rings (src/ipc/_align.ts): a large payload lands at the ring
 * position its largest part has modulo 8 (a Pad record before it when needed), the reader's copy
 * starts at the address the ring position has modulo 8, and Pad records are never delivered.
 * Reads the ring's data area only to check where a payload landed.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createRing, RingReader, RingWriter } from "./ring.ts";
import { createDoorbell, readDoorbell, waitDoorbell } from "./waiter.ts";
import { ALIGN_MIN, alignedCopyTarget, alignKey, padBefore } from "./_align.ts";

const HEADER_BYTES = 192; // _ring_layout.ts: the data area follows the header words

function filled(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (seed + i * 7) & 0xff);
}

Deno.test("padBefore() puts payload byte k at key + k modulo 8 with a 5-12 byte pad", () => {
  for (let head = 0; head < 16; head++) {
    for (let key = 0; key < 8; key++) {
      for (const [k, extra] of [[0, 0], [0, 5], [1000, 0], [13, 0]] as const) {
        const pad = padBefore(head, key, k, extra);
        ok(pad === 0 || (pad >= 5 && pad <= 12), `pad ${pad}`);
        strictEqual((head + pad + 5 + extra - key - k) & 7, 0, `head ${head} key ${key}`);
      }
    }
  }
  strictEqual(padBefore(3, -1, 0, 0), 0, "no key, no pad");
});

Deno.test("alignKey() follows the largest part; small payloads have none", () => {
  const big = new Uint8Array(5000).subarray(3); // byteOffset 3
  strictEqual(alignKey([new Uint8Array(8), big], big.length + 8), (3 - 8) & 7);
  strictEqual(alignKey([big], big.length, 100), (3 - 100) & 7);
  strictEqual(alignKey([new Uint8Array(100)], 100), -1);
  const t = alignedCopyTarget(4096, 13);
  strictEqual(t.byteOffset & 7, 5);
  strictEqual(t.length, 4096);
  strictEqual(alignedCopyTarget(10, 13).byteOffset, 0);
});

Deno.test("A large payload lands aligned like its source; Pad records are not delivered", async () => {
  const ring = createRing(1 << 16);
  const data = new Uint8Array(ring.sab, HEADER_BYTES, 1 << 16);
  const bell = createDoorbell();
  const writer = new RingWriter(ring, bell);
  const reader = new RingReader(ring);
  const backing = filled(20_000, 1);
  for (let off = 0; off < 8; off++) {
    // A small record first moves the write position to an arbitrary alignment.
    writer.write(1, filled(off + 1, off));
    const src = backing.subarray(off, off + ALIGN_MIN * 3);
    const head = new Uint8Array([9, 9, 9]); // a small header part before the big one
    writer.write(2, [head, src]);
    writer.flush();
    // Find where the big payload landed: its first source byte after the header part.
    const got: { kind: number; payload: Uint8Array }[] = [];
    const seen = readDoorbell(bell);
    if (reader.drain((kind, payload) => got.push({ kind, payload })) === 0) {
      await waitDoorbell(bell, seen, 1000);
    }
    deepStrictEqual(got.map((g) => g.kind), [1, 2], "no Pad delivered");
    const payload = got[1]!.payload;
    deepStrictEqual(payload.subarray(3), src);
    // The reader's copy of byte 3 (the source's first byte) sits at the source's alignment.
    strictEqual((payload.byteOffset + 3) & 7, src.byteOffset & 7, `offset ${off}`);
    // And in the ring: find the 3 header bytes followed by the source's first bytes.
    let at = -1;
    for (let i = 0; i + 4 < data.length; i++) {
      if (
        data[i] === 9 && data[i + 1] === 9 && data[i + 2] === 9 && data[i + 3] === src[0] &&
        data[i + 4] === src[1]
      ) at = i + 3;
    }
    ok(at >= 0, "payload found in the ring");
    strictEqual(at & 7, src.byteOffset & 7, `ring position of offset ${off}`);
  }
});
