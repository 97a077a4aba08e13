/**
 * Unit tests of src/supervisor/ end to end over real TCP sockets, against the stand-in shard
 * _echo_shard_test_worker.ts (no MQTT beyond the supervisor's CONNECT peek): the first packet
 * (CONNECT peek, assigned ids, invalid, oversized, idle timeout), max_connections and stop. The
 * byte flows (overflow, congestion, pauses, crash) are in supervisor_flow_test.ts; the shared
 * set-up is in _echo_shard_test_util.ts.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import {
  Client,
  connected,
  connectPacket,
  delay,
  startEchoSupervisor,
  until,
} from "./_echo_shard_test_util.ts";

Deno.test("supervisor end to end with echo shards", async (t) => {
  const echo = await startEchoSupervisor();
  const { sup, port, logs, waitEvent } = echo;
  try {
    await t.step("CONNECT split over two writes is forwarded whole, then bytes pass", async () => {
      const c = await Client.open(port);
      const pkt = connectPacket("abc");
      await c.send(pkt.subarray(0, 5));
      await delay(50);
      await c.send(pkt.subarray(5));
      await c.waitBytes(pkt.length);
      deepStrictEqual(c.bytes(), pkt);
      await c.send("hello");
      await c.waitBytes(pkt.length + 5);
      strictEqual(c.text().slice(pkt.length), "hello");
      const open = await waitEvent(/open \d+ tcp:default $/);
      const id = open.split(" ")[2];
      c.close();
      await waitEvent(new RegExp(`closed ${id} closed by peer`));
    });

    await t.step("an empty client id is given an assigned id", async () => {
      const c = await connected(port, "");
      const ev = await waitEvent(/open \d+ tcp:default culex-/);
      match(ev, /culex-[0-9a-f]{16}$/);
      c.close();
    });

    await t.step("an invalid first packet closes only that socket, logged once", async () => {
      const good = await connected(port, "good");
      const before = logs.filter((l) => l.startsWith("warning Closing 127.0.0.1:")).length;
      const c = await Client.open(port);
      await c.send(Uint8Array.from([0x30, 2, 0, 0]));
      await c.waitClosed();
      strictEqual(c.length, 0);
      const closing = () => logs.filter((l) => l.startsWith("warning Closing 127.0.0.1:")).length;
      await until(() => closing() > before, () => logs.join("\n"));
      await delay(50);
      strictEqual(closing() - before, 1, logs.join("\n"));
      await good.send("still");
      await good.waitBytes(5);
      strictEqual(good.text(), "still");
      good.close();
    });

    await t.step("an oversized first packet closes the socket", async () => {
      const c = await Client.open(port);
      // Remaining length 100000 > max_packet_size 4KB.
      await c.send(Uint8Array.from([0x10, 0xa0, 0x8d, 0x06, 0, 4, 77, 81, 84, 84]));
      await c.waitClosed();
      strictEqual(c.length, 0);
    });

    await t.step("no CONNECT within idle_timeout closes the socket", async () => {
      const t0 = Date.now();
      const c = await Client.open(port);
      await c.waitClosed();
      ok(Date.now() - t0 >= 390, `closed after ${Date.now() - t0} ms`);
      ok(logs.some((l) => l.includes("no CONNECT within 400 ms")), logs.join("\n"));
    });

    await t.step("max_connections refuses a seventh socket", async () => {
      await until(() => sup.connectionCount === 0, () => `${sup.connectionCount} still open`);
      const cs: Client[] = [];
      for (let i = 0; i < 6; i++) cs.push(await connected(port, `m${i}`));
      strictEqual(sup.connectionCount, 6);
      const extra = await Client.open(port);
      await extra.waitClosed();
      strictEqual(extra.length, 0);
      for (const c of cs) c.close();
      await until(() => sup.connectionCount === 0, () => `${sup.connectionCount} still open`);
    });

    await t.step("stop closes open sockets and the listener", async () => {
      const c = await connected(port, "stayer");
      await sup.stop();
      await c.waitClosed();
      let refused = false;
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      } catch {
        refused = true;
      }
      ok(refused, "still accepting after stop");
    });
  } finally {
    await echo.close();
  }
});
