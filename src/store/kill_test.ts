/**
 * kill -9 for real: a child Deno process commits batches in a loop and prints each batch it was
 * told is committed; the test kills it with SIGKILL at random instants, reopens the file and
 * checks that every reported batch is there, that batches are whole (none half-written), and
 * that nothing after the last whole batch exists. Five kills in a row on one file, with
 * sync=normal and sync=full.
 */

import { backupStore, makeKey, Store } from "./mod.ts";
import { assert, assertEquals, cleanup, options, tempDir } from "./_test_util.ts";

const SID = makeKey(42, 1);
const CHILD = new URL("./_kill_child.ts", import.meta.url).pathname;

/**
 * Runs the child until a random instant after it is ready, kills it, returns the last N printed.
 * `during(n)`, when given, runs once after batch n was reported, while the child still writes.
 */
async function runAndKill(
  dir: string,
  sync: string,
  during?: { after: number; run: () => void },
): Promise<{ ready: number; reported: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, sync],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "", ready = -1, reported = 0, killed = false;
  const deadline = Date.now() + 30_000;
  let killAt = Infinity;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(ready|committed) (\d+)$/.exec(line);
        if (!m) continue;
        if (m[1] === "ready") {
          ready = Number(m[2]);
          killAt = Date.now() + 50 + Math.random() * 400;
        } else reported = Number(m[2]);
        if (during && reported >= during.after) {
          during.run();
          during = undefined;
        }
      }
      if (!killed && !during && Date.now() >= killAt) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
  } finally {
    if (!killed) child.kill("SIGKILL");
    await child.status;
  }
  assert(ready >= 0, "the child started");
  return { ready, reported };
}

function verify(dir: string, reported: number): number {
  const store = Store.open(options(dir));
  try {
    return check(store, reported);
  } finally {
    store.close();
  }
}

function check(store: Store, reported: number): number {
  {
    assertEquals(store.report.corruption, null, "no corruption after kill -9");
    const delayed = store.delayed([0]).map((d) => d.id - makeKey(0, 1) + 1);
    const last = delayed.length;
    // Every batch up to the last one is whole: delayed ids 1..last without a gap.
    assertEquals(delayed, Array.from({ length: last }, (_, i) => i + 1));
    assert(last >= reported, `batch ${reported} was reported committed, found up to ${last}`);
    const retained = store.retainedQuery("k/+", null, 1_000_000).rows.length;
    assertEquals(retained, last);
    // Outgoing rows: only the last two batches' (earlier ones were deleted), all ten of each.
    const seqs = store.outgoing(SID, 0, 1_000_000).map((r) => r.seq);
    const first = Math.max(1, last - 1);
    const want: number[] = [];
    for (let n = first; n <= last; n++) for (let k = 9; k >= 0; k--) want.push(10 * n - k);
    assertEquals(seqs, want);
    return last;
  }
}

for (const sync of ["normal", "full"]) {
  Deno.test(`Store loses no reported commit and writes no half batch under kill -9 (sync ${sync})`, async () => {
    const dir = tempDir();
    try {
      let total = 0;
      for (let round = 0; round < 5; round++) {
        const { ready, reported } = await runAndKill(dir, sync);
        assertEquals(ready, total, "the child continued after the last whole batch");
        total = verify(dir, reported);
        assert(total > ready, `round ${round} committed something`);
      }
    } finally {
      cleanup(dir);
    }
  });
}

Deno.test("backupStore() copies a consistent store while another process commits", async () => {
  const dir = tempDir(), copy = tempDir();
  try {
    let backedUpAfter = -1;
    const { reported } = await runAndKill(dir, "normal", {
      after: 20,
      run() {
        backupStore(dir, `${copy}/culex.db`);
        backedUpAfter = 20;
      },
    });
    assert(backedUpAfter === 20 && reported > 20, `backup ran while writing (${reported})`);
    const store = Store.open(options(copy));
    try {
      assertEquals(store.report.quickChecked, true);
      // Whole batches only, at least those reported before the copy started.
      const last = check(store, 20);
      assert(last <= reported + 1, `${last} <= ${reported} + 1`);
    } finally {
      store.close();
    }
  } finally {
    cleanup(dir);
    cleanup(copy);
  }
});
