/**
 * Unit tests of the record field codec and kinds table (src/ipc/record.ts). Touches no ring.
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  FieldReader,
  FieldWriter,
  RECORD_FORMAT_VERSION,
  RecordKind,
  recordKindName,
} from "./record.ts";

Deno.test("FieldWriter.finish() round-trips every field type through FieldReader", () => {
  const w = new FieldWriter(16);
  const blob = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  w.u8(255).u16(65535).u32(0xfffffffe).f64(-1.5).str("héllo 🦟").bytes(blob).str("");
  const r = new FieldReader(w.finish());
  strictEqual(r.u8(), 255);
  strictEqual(r.u16(), 65535);
  strictEqual(r.u32(), 0xfffffffe);
  strictEqual(r.f64(), -1.5);
  strictEqual(r.str(), "héllo 🦟");
  deepStrictEqual(r.bytes(), blob);
  strictEqual(r.str(), "");
  strictEqual(r.remaining, 0);
});

Deno.test("FieldWriter.finish() returns a copy and empties the writer for reuse", () => {
  const w = new FieldWriter();
  const first = w.u32(1).finish();
  strictEqual(w.length, 0);
  const second = w.u32(2).finish();
  deepStrictEqual([...first], [1, 0, 0, 0]);
  deepStrictEqual([...second], [2, 0, 0, 0]);
});

Deno.test("FieldWriter writes little endian with u32 length prefixes", () => {
  const out = new FieldWriter().u16(0x0102).str("ab").bytes(new Uint8Array([9])).finish();
  deepStrictEqual([...out], [2, 1, 2, 0, 0, 0, 97, 98, 1, 0, 0, 0, 9]);
});

Deno.test("FieldReader.bytes() returns a view of the payload, not a copy", () => {
  const payload = new FieldWriter().bytes(new Uint8Array([1, 2, 3])).finish();
  const view = new FieldReader(payload).bytes();
  strictEqual(view.buffer, payload.buffer);
  strictEqual(view.byteOffset, 4);
});

Deno.test("FieldReader.u32() throws SyntaxError when the record is truncated", () => {
  const r = new FieldReader(new Uint8Array([1, 2, 3]));
  throws(() => r.u32(), SyntaxError);
  const s = new FieldReader(new FieldWriter().u32(10).finish());
  throws(() => s.str(), SyntaxError);
});

Deno.test("FieldReader reads from a subarray at its own offset", () => {
  const whole = new Uint8Array([0xee, 0xee, 7, 0, 0, 0]);
  strictEqual(new FieldReader(whole.subarray(2)).u32(), 7);
});

Deno.test("RecordKind values are unique and named", () => {
  const values = Object.values(RecordKind);
  strictEqual(new Set(values).size, values.length);
  strictEqual(recordKindName(RecordKind.RoutedPublish), "RoutedPublish");
  strictEqual(recordKindName(200), "Unknown(200)");
  strictEqual(RECORD_FORMAT_VERSION, 2);
  // The ring's own kinds take the top three values; every other kind stays below them.
  deepStrictEqual([RecordKind.Pad, RecordKind.Fragment, RecordKind.FragmentMore], [253, 254, 255]);
  ok(values.filter((k) => k >= 253).length === 3);
});
