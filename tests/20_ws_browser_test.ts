/**
 * Integration suite 20 (browser): MQTT over WebSocket as EMQX serves it — proxy_address_header
 * (the forwarded address replaces the peer), a real browser (headless chromium running
 * npm:mqtt's browser bundle), and a flooding WebSocket publisher that must not grow the broker's
 * memory without bound. Frames, subprotocols and origins: 20_websocket_test.ts.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { collect, connect, publish, subscribe, takeMatching } from "./_helpers/clients.ts";
import {
  concat,
  connectPacket,
  PacketType,
  publishPacket,
  subscribePacket,
} from "./_helpers/packets.ts";
import { frame, WsRaw } from "./_helpers/ws_raw.ts";
import { hasChromium, runBrowser } from "./_helpers/browser.ts";
import { healthyAfter, rawConnect, withWsBroker } from "./_helpers/ws_suite.ts";

Deno.test("20 WebSocket listeners: proxy header, browser, flood", async (t) => {
  await withWsBroker(async ({ broker, tag, wsPort, clients, raws }) => {
    await t.step("proxy_address_header: the forwarded address replaces the peer", async () => {
      const watcher = await connect(broker.url, { protocolVersion: 4, clientId: `${tag}w` });
      clients.push(watcher);
      await subscribe(watcher, `$SYS/brokers/+/clients/${tag}fwd/connected`, { qos: 0 });
      const ws = await WsRaw.open(broker.portOf("ws:proxied"), {
        headers: { "X-Forwarded-For": "203.0.113.9, 10.0.0.1" },
      });
      raws.push(ws);
      await ws.sendBinary(connectPacket({ version: 4, clientId: `${tag}fwd` }));
      assertEquals((await ws.readPacket()).type, PacketType.CONNACK, "CONNACK");
      const ev = await takeMatching(watcher, () => true, 5000);
      assertEquals(
        (JSON.parse(ev.payload) as { ipaddress: string }).ipaddress,
        "203.0.113.9",
        "ipaddress",
      );
    });

    await t.step({
      name: "a browser: headless chromium with npm:mqtt's browser bundle",
      // Reported as ignored where chromium is missing; .ci/run installs it.
      ignore: !(await hasChromium()),
      fn: async () => {
        const pub = await connect(broker.url, { protocolVersion: 4, clientId: `${tag}bp` });
        clients.push(pub);
        await subscribe(pub, `${tag}/browser/up`, { qos: 0 });
        const result = await runBrowser(wsPort, tag, async () => {
          await publish(pub, `${tag}/browser/down`, "hello browser", { qos: 1 });
        });
        assertEquals(result, "got:hello browser", "the page received the message");
        const up = await collect(pub, 1, 5000);
        assertEquals(up[0]?.payload, "hello from chromium", "and published one");
      },
    });

    await t.step("a flooding WebSocket publisher does not grow the broker's memory", async () => {
      // One slow subscriber (reads a frame every 100 ms) and one publisher writing 256 KiB frames
      // of 64 QoS 0 PUBLISH packets as fast as the socket takes them. Were the frames buffered
      // instead of the socket paused, the broker would hold what loopback delivers in 4 s (GBs).
      const slow = await rawConnect(wsPort, `${tag}slow`);
      raws.push(slow);
      await slow.sendBinary(subscribePacket(4, 1, [{ topic: `${tag}/flood`, qos: 0 }]));
      assertEquals((await slow.readPacket()).type, PacketType.SUBACK, "SUBACK");
      const pubWs = await rawConnect(wsPort, `${tag}flooder`);
      raws.push(pubWs);
      const one = publishPacket({
        version: 4,
        topic: `${tag}/flood`,
        payload: new Uint8Array(4096),
      });
      const batch = frame(0x2, concat(Array.from({ length: 64 }, () => one)));
      const before = rss(broker.pid);
      let written = 0;
      let reading = true;
      const reader = (async () => {
        while (reading) {
          await slow.readFrame(100);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const end = Date.now() + 4000;
      while (Date.now() < end) {
        await pubWs.write(batch);
        written += batch.length;
      }
      reading = false;
      await reader;
      const peak = peakRss(broker.pid);
      const grew = peak - before;
      console.log(
        `flood: wrote ${(written / 2 ** 20).toFixed(0)} MiB; broker RSS ` +
          `${(before / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB`,
      );
      assert(written > 16 * 2 ** 20, `the publisher got to write (${written} bytes)`);
      assert(grew < 384 * 2 ** 20, `peak RSS grew by ${(grew / 2 ** 20).toFixed(0)} MiB`);
      await healthyAfter(wsPort, `${tag}after`);
    });
  });
});

function rss(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
}

function peakRss(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmHWM:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
}
