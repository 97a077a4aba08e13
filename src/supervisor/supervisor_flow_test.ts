/**
 * Unit tests of src/supervisor/ end to end over real TCP sockets, against the stand-in shard
 * _echo_shard_test_worker.ts: the byte flows after CONNECT (ConnClose, ring overflow, a congested
 * socket, InputPause, a full ring to a slow shard, a crashed shard restarted). The first packet,
 * max_connections and stop are in supervisor_test.ts; the shared set-up is in
 * _echo_shard_test_util.ts.
 */

import { ok, strictEqual } from "node:assert/strict";
import { shardOf } from "../ipc/mod.ts";
import { BIG, connected, dec, delay, startEchoSupervisor, until } from "./_echo_shard_test_util.ts";

Deno.test("supervisor end to end with echo shards: byte flows", async (t) => {
  const echo = await startEchoSupervisor();
  const { port, logs, bc, waitEvent } = echo;
  try {
    await t.step("ConnClose writes pending bytes, then closes", async () => {
      const c = await connected(port, "c-l-o-s-e-r");
      await c.send("please close");
      await c.waitClosed();
      strictEqual(c.text(), "please close");
    });

    await t.step("a large reply arrives whole through ring overflow", async () => {
      const c = await connected(port, "b-i-g");
      await c.send("big");
      await c.waitBytes(BIG + 3, 30_000);
      const got = c.bytes();
      strictEqual(got.length, BIG + 3);
      ok(got.subarray(0, BIG).every((b) => b === 0x61));
      strictEqual(dec.decode(got.subarray(BIG)), "big");
      c.close();
    });

    await t.step("a socket that does not read makes its connection congested", async () => {
      const c = await connected(port, "sloth");
      c.paused = true;
      await c.send("big");
      const on = await waitEvent(/congested \d+ 1/, 10_000);
      const id = on.split(" ")[2];
      c.resumeReading();
      await waitEvent(new RegExp(`congested ${id} 0`), 10_000);
      await c.waitBytes(BIG + 3, 30_000);
      c.close();
    });

    await t.step("InputPause stops reading the shard's sockets until it is lifted", async () => {
      const a = await connected(port, "aa");
      const shard = shardOf("aa", 2);
      let other = "x0";
      for (let i = 1; shardOf(other, 2) !== shard; i++) other = `x${i}`;
      const b = await connected(port, other);
      const elsewhere = "y" + [...Array(50).keys()].find((i) => shardOf(`y${i}`, 2) !== shard);
      const c = await connected(port, elsewhere);
      await a.send("pause");
      // InputPause precedes the echo in the ring: once the echo is here, the pause holds.
      await a.waitBytes(5);
      await b.send("ping");
      await c.send("pong");
      await c.waitBytes(4); // the other shard is not paused
      await delay(200);
      strictEqual(b.length, 0, "a paused shard's socket was read");
      bc.postMessage({ cmd: "resume", index: shard });
      await b.waitBytes(4);
      strictEqual(b.text(), "ping");
      a.close();
      b.close();
      c.close();
    });

    await t.step("a full ring to a slow shard pauses its sockets and loses nothing", async () => {
      const c = await connected(port, "s-l-o-w");
      await c.send("stall");
      await c.waitBytes(5);
      const blob = Uint8Array.from(
        { length: 2_000_000 },
        (_, i) => ((i * 7 + (i >> 11)) & 0x7f) | 0x80,
      );
      await c.send("stall");
      await c.send(blob);
      await c.waitBytes(10 + blob.length, 30_000);
      const got = c.bytes();
      strictEqual(got.length, 10 + blob.length);
      strictEqual(dec.decode(got.subarray(0, 10)), "stallstall");
      ok(got.subarray(10).every((v, i) => v === blob[i]), "echoed bytes differ");
      c.close();
    });

    await t.step("a crashed shard is restarted and its connections closed", async () => {
      const c = await connected(port, "victim");
      await c.send("crash");
      await c.waitClosed(10_000);
      await until(() => logs.some((l) => l.includes("restarted")), () => logs.join("\n"), 10_000);
      ok(logs.some((l) => l.includes("crashed")), logs.join("\n"));
      const d = await connected(port, "victim");
      await d.send("again");
      await d.waitBytes(5);
      strictEqual(d.text(), "again");
      d.close();
    });
  } finally {
    await echo.close();
  }
});
