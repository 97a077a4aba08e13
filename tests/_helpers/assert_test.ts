// The suites' equality tells Maps, Sets, objects and bytes apart (issue #11: JSON rendering made
// every Map equal to {}).
import { assertEquals, AssertionError, equal } from "./assert.ts";
import { Buffer } from "node:buffer";

Deno.test("equal(): Maps and Sets compare their contents and never equal an object", () => {
  const cases: [unknown, unknown, boolean][] = [
    [new Map([["a", 1]]), new Map([["a", 1]]), true],
    [new Map([["a", 1]]), new Map([["a", 2]]), false],
    [new Map([["a", 1]]), new Map(), false],
    [new Map(), {}, false],
    [new Set([1, 2]), new Set([2, 1]), true],
    [new Set([1]), new Set([2]), false],
    [new Set(), new Map(), false],
    [new Set([{ x: 1 }]), new Set([{ x: 1 }]), true],
    [Buffer.from([1, 2]), new Uint8Array([1, 2]), true],
    [new Uint8Array([1]), [1], false],
    [{ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, true],
    [{ a: undefined }, {}, false],
    [[1, 2], { 0: 1, 1: 2 }, false],
    [NaN, NaN, true],
  ];
  for (const [a, b, want] of cases) {
    if (equal(a, b) !== want) throw new Error(`equal(${String(a)}, ${String(b)}) !== ${want}`);
  }
});

Deno.test("assertEquals() fails on Maps that differ", () => {
  let threw = false;
  try {
    assertEquals(new Map([["k", 1]]), new Map([["k", 2]]), "maps");
  } catch (e) {
    threw = e instanceof AssertionError && e.message.includes('"Map"');
  }
  if (!threw) throw new Error("assertEquals accepted different Maps");
});
