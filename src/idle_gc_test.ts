import assert from "node:assert/strict";
import { nativeTrim, startIdleGc } from "./idle_gc.ts";

/** Garbage that only a full collection frees: promoted objects, then dropped. */
function makeOldGarbage(): void {
  let keep: { i: number; s: string }[] | null = [];
  for (let i = 0; i < 400_000; i++) keep.push({ i, s: `item ${i}` });
  keep = null;
}

Deno.test("startIdleGc() collects a grown heap once the isolate is quiet", async () => {
  const runs: [number, number][] = [];
  let work = 0;
  let busy = true;
  const stop = startIdleGc({
    intervalMs: 50,
    growthBytes: 4 * 1024 * 1024,
    quietWork: 10,
    // Every look while busy sees more work than quietWork, however late the timer fires.
    work: () => busy ? (work += 1000) : work,
    collected: (before, after) => runs.push([before, after]),
  });
  try {
    makeOldGarbage();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(runs.length, 0, "no collection while busy");
    busy = false;
    for (let i = 0; i < 100 && runs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(runs.length, 1, "one collection once quiet");
    const [before, after] = runs[0]!;
    assert.ok(after < before, `heap ${before} -> ${after}`);
  } finally {
    stop();
  }
});

Deno.test("startIdleGc() with interval 0 does nothing", () => {
  const stop = startIdleGc({ intervalMs: 0, growthBytes: 1, quietWork: 0, work: () => 0 });
  stop();
});

Deno.test("nativeTrim() returns the C heap's free pages on glibc Linux, given --allow-ffi", () => {
  const granted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  const trim = nativeTrim();
  if (Deno.build.os !== "linux" || !granted) {
    assert.equal(trim, null);
    return;
  }
  // Freed chunks in the middle of an arena are what malloc_trim gives back: allocate many
  // native buffers (array buffer stores are malloc'd), keep every other one, free the rest.
  let stores: ArrayBuffer[] | null = [];
  for (let i = 0; i < 2000; i++) stores.push(new ArrayBuffer(16 * 1024));
  stores = stores.filter((_, i) => i % 2 === 0);
  assert.ok(trim !== null, "glibc expected on this Linux");
  trim(); // must not throw; what it returns to the system is measured in bench/README.md
  assert.equal(nativeTrim(), trim, "opened once per isolate");
  assert.equal(stores.length, 1000);
  stores = null;
});
