import assert from "node:assert/strict";
import { RotatingFile } from "./_log_file.ts";

Deno.test("RotatingFile keeps at most rotation_size x (count + 1) bytes in count + 1 files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "culex_logfile_" });
  try {
    const path = `${dir}/sub/culex.log`;
    const f = new RotatingFile(path, 100, 2);
    for (let i = 0; i < 50; i++) {
      f.writeLine(`line ${String(i).padStart(3, "0")} ${"x".repeat(20)}`);
    }
    f.writeLine("y".repeat(500)); // longer than a file: cut to it
    f.close();
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["culex.log", "culex.log.1", "culex.log.2"]);
    for (const n of names) assert.ok(Deno.statSync(`${dir}/sub/${n}`).size <= 100, n);
    assert.equal(Deno.readTextFileSync(path), "y".repeat(99) + "\n");
    // Newest before the long line is in .1, and lines are never split across files.
    assert.match(Deno.readTextFileSync(`${path}.1`), /line 049 x{20}\n$/);
    // Reopening appends.
    const g = new RotatingFile(`${dir}/b.log`, 1000, 1);
    g.writeLine("one");
    g.close();
    const h = new RotatingFile(`${dir}/b.log`, 1000, 1);
    h.writeLine("two\n");
    h.close();
    assert.equal(Deno.readTextFileSync(`${dir}/b.log`), "one\ntwo\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
