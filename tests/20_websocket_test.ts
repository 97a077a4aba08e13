/**
 * Integration suite 20: MQTT over WebSocket (`listeners.ws.<name>`, `listeners.wss.<name>`) as
 * EMQX serves it on `websocket.mqtt_path`: npm:mqtt over ws:// and wss://, raw RFC 6455 frames
 * written by the test (packets split across frames, several packets per frame, fragmented
 * messages, ping/pong, the close handshake, text and unmasked frames refused, oversized frames),
 * subprotocol and origin checks on the upgrade. proxy_address_header, the browser and the flood:
 * 20_ws_browser_test.ts (the same broker set-up, tests/_helpers/ws_suite.ts).
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { collect, connect, publish, subscribe } from "./_helpers/clients.ts";
import {
  concat,
  connectPacket,
  PacketType,
  PINGREQ,
  publishPacket,
  subscribePacket,
} from "./_helpers/packets.ts";
import { frame, WsRaw } from "./_helpers/ws_raw.ts";
import { rawConnect, withWsBroker } from "./_helpers/ws_suite.ts";

const enc = new TextEncoder();

Deno.test("20 WebSocket listeners", async (t) => {
  await withWsBroker(async ({ broker, certs, tag, wsPort, clients, raws }) => {
    await t.step("npm:mqtt over ws:// and wss:// (3.1.1 and 5) with a TCP client", async () => {
      const urls = [
        [`ws://127.0.0.1:${wsPort}/mqtt`, {}],
        [`wss://127.0.0.1:${broker.portOf("wss:default")}/mqtt`, {
          ca: certs.ca,
          servername: "localhost",
        }],
      ] as const;
      for (const [url, extra] of urls) {
        for (const version of [4, 5] as const) {
          const topic = `${tag}/${url.slice(0, 3)}/${version}`;
          const sub = await connect(url, {
            protocolVersion: version,
            clientId: `${tag}s${version}${url.slice(0, 3)}`,
            ...extra,
          });
          clients.push(sub);
          await subscribe(sub, topic, { qos: 1 });
          const pub = await connect(broker.url, {
            protocolVersion: version,
            clientId: `${tag}p${version}`,
          });
          clients.push(pub);
          await publish(pub, topic, "to the browser side", { qos: 1 });
          assertEquals((await collect(sub, 1, 5000))[0]?.payload, "to the browser side", url);
          // ...and back: the WebSocket client publishes to a TCP subscriber.
          await subscribe(pub, `${topic}/back`, { qos: 0 });
          await publish(sub, `${topic}/back`, "from the ws side", { qos: 1 });
          assertEquals(
            (await collect(pub, 1, 5000))[0]?.payload,
            "from the ws side",
            `${url} back`,
          );
        }
      }
    });

    await t.step(
      "a CONNECT split over three frames, then several packets in one frame",
      async () => {
        const ws = await WsRaw.open(wsPort);
        raws.push(ws);
        const c = connectPacket({ version: 4, clientId: `${tag}raw` });
        await ws.write(frame(0x2, c.subarray(0, 1)));
        await ws.write(frame(0x2, c.subarray(1, 5)));
        await ws.write(frame(0x2, c.subarray(5)));
        assertEquals((await ws.readPacket()).type, PacketType.CONNACK, "CONNACK after 3 frames");
        // SUBSCRIBE, a PUBLISH to it and a PINGREQ in one frame.
        await ws.sendBinary(concat([
          subscribePacket(4, 1, [{ topic: `${tag}/raw`, qos: 0 }]),
          publishPacket({ version: 4, topic: `${tag}/raw`, payload: "one frame" }),
          PINGREQ,
        ]));
        const got = [await ws.readPacket(), await ws.readPacket(), await ws.readPacket()];
        assertEquals(got.map((p) => p.type), [
          PacketType.SUBACK,
          PacketType.PUBLISH,
          PacketType.PINGRESP,
        ], "answers in order");
        // One PUBLISH across a fragmented message (binary FIN=0, continuation, continuation FIN=1)
        // with a ping frame in between, as RFC 6455 allows.
        const p = publishPacket({ version: 4, topic: `${tag}/raw`, payload: "fragmented" });
        await ws.write(frame(0x2, p.subarray(0, 3), { fin: false }));
        await ws.write(frame(0x9, enc.encode("are you there")));
        await ws.write(frame(0x0, p.subarray(3, 8), { fin: false }));
        await ws.write(frame(0x0, p.subarray(8)));
        const pong = await ws.readFrame();
        assertEquals([pong?.opcode, new TextDecoder().decode(pong?.payload)], [
          0xa,
          "are you there",
        ], "pong");
        assertEquals(pong?.masked, false, "server frames are not masked");
        const back = await ws.readPacket();
        assertEquals(back.type, PacketType.PUBLISH, "the fragmented PUBLISH was delivered");
        assert(new TextDecoder().decode(back.bytes).endsWith("fragmented"), "its payload");
        // Close handshake: the server answers with a close frame and ends the connection.
        await ws.write(frame(0x8, Uint8Array.of(0x03, 0xe8)));
        const close = await ws.readFrame();
        assertEquals(close?.opcode, 0x8, "close frame answered");
        assert(await ws.closedByServer(), "then the TCP connection ends");
      },
    );

    await t.step(
      "text frames, unmasked frames and oversized frames close that connection only",
      async () => {
        const healthy = await rawConnect(wsPort, `${tag}ok`);
        raws.push(healthy);
        const cases: [number, string, (ws: WsRaw) => Promise<void>][] = [
          [wsPort, "text frame → 1003", (ws) => ws.write(frame(0x1, enc.encode("hello")))],
          [wsPort, "unmasked frame → 1002", (ws) => ws.write(frame(0x2, PINGREQ, { mask: false }))],
          [
            broker.portOf("ws:small"),
            "frame over max_frame_size → 1009",
            (ws) => ws.write(frame(0x2, new Uint8Array(2000))),
          ],
        ];
        const codes = [1003, 1002, 1009];
        for (const [i, [port, what, send]] of cases.entries()) {
          const ws = await rawConnect(port, `${tag}bad${i}`);
          raws.push(ws);
          await send(ws);
          const f = await ws.readFrame();
          assertEquals(f?.opcode, 0x8, `${what}: a close frame`);
          assertEquals(
            ((f?.payload[0] ?? 0) << 8) | (f?.payload[1] ?? 0),
            codes[i],
            `${what}: code`,
          );
          assert(await ws.closedByServer(), `${what}: connection closed`);
        }
        await healthy.sendBinary(PINGREQ);
        assertEquals((await healthy.readPacket()).type, PacketType.PINGRESP, "others go on");
      },
    );

    await t.step("the upgrade: path, subprotocols and origins", async () => {
      const status = async (port: number, o: Parameters<typeof WsRaw.open>[1]) => {
        const ws = await WsRaw.open(port, o);
        ws.close();
        return [ws.status, ws.responseHead] as const;
      };
      const [ok, head] = await status(wsPort, { protocol: "mqttv3.1, mqtt" });
      assertEquals(ok, 101, "mqttv3.1 offered first is accepted");
      assert(/sec-websocket-protocol: mqttv3\.1/i.test(head), `chosen protocol in ${head}`);
      assertEquals((await status(wsPort, { protocol: "mqttv5" }))[0], 101, "mqttv5");
      assertEquals((await status(wsPort, { protocol: "chat" }))[0], 400, "unknown subprotocol");
      assertEquals((await status(wsPort, { protocol: null }))[0], 400, "no subprotocol");
      assertEquals(
        (await status(broker.portOf("ws:proxied"), { protocol: null }))[0],
        101,
        "fail_if_no_subprotocol = false",
      );
      assertEquals((await status(wsPort, { path: "/other" }))[0], 404, "another path");
      const origin = broker.portOf("ws:origin");
      assertEquals(
        (await status(origin, { headers: { Origin: "http://good.example" } }))[0],
        101,
        "listed origin",
      );
      assertEquals(
        (await status(origin, { headers: { Origin: "https://also.example" } }))[0],
        101,
        "second origin",
      );
      assertEquals(
        (await status(origin, { headers: { Origin: "http://evil.example" } }))[0],
        403,
        "other origin",
      );
      assertEquals(
        (await status(origin, {}))[0],
        403,
        "no origin with allow_origin_absence = false",
      );
    });
  });
});
