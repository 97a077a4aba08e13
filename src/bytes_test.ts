import assert from "node:assert/strict";
import { readF64LE, readU16LE, readU32LE, writeU32LE } from "./bytes.ts";

Deno.test("little-endian helpers agree with DataView at any offset", () => {
  const b = new Uint8Array(32);
  const view = new DataView(b.buffer);
  for (const v of [0, 1, 0x7f, 0x80, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff]) {
    for (const at of [0, 3, 7]) {
      writeU32LE(b, at, v);
      assert.equal(view.getUint32(at, true), v);
      assert.equal(readU32LE(b, at), v);
      assert.equal(readU16LE(b, at), view.getUint16(at, true));
    }
  }
  for (const f of [0, -0, 1.5, -2.25e300, Number.MIN_VALUE, Infinity, 1781234567890.123]) {
    view.setFloat64(5, f, true);
    assert.equal(Object.is(readF64LE(b, 5), f), true);
  }
  assert.equal(Number.isNaN((view.setFloat64(9, NaN, true), readF64LE(b, 9))), true);
});
