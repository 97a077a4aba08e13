/**
 * Unit tests of the WebSocket transport (listener_ws.ts, _ws_frame.ts, _ws_handshake.ts): the
 * frame decoder fed one byte at a time, the upgrade request's cookie and forwarded address, and,
 * end to end against the stand-in echo shard, that a paused shard stops the reading of a
 * WebSocket client's socket (its writes block) instead of buffering its frames.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { configure, reset } from "@logtape/logtape";
import { loadConfig } from "../config/mod.ts";
import { frame, WsRaw } from "../../tests/_helpers/ws_raw.ts";
import { fnv1a32, startSupervisor } from "./mod.ts";
import { WsFrameDecoder, type WsFrameSink } from "./_ws_frame.ts";
import { checkUpgrade, cookieValue } from "./_ws_handshake.ts";
import { echoShard } from "./_echo_shard_test_util.ts";

/** The store of the nodes started here: a temp directory, never the repository's data/. */
const DATA_DIR = Deno.makeTempDirSync({ prefix: "culex_test_data_" });

const enc = new TextEncoder();

class Sink implements WsFrameSink {
  data: number[] = [];
  controls: string[] = [];
  errors: number[] = [];
  wsData(b: Uint8Array): void {
    this.data.push(...b);
  }
  wsControl(op: number, p: Uint8Array): void {
    this.controls.push(`${op}:${new TextDecoder().decode(p)}`);
  }
  wsError(code: number): void {
    this.errors.push(code);
  }
}

Deno.test("WsFrameDecoder.push() streams payloads whatever the read boundaries", () => {
  const bytes = [
    frame(0x2, Uint8Array.of(1, 2, 3), { fin: false }),
    frame(0x9, enc.encode("hi")),
    frame(0x0, new Uint8Array(300).fill(7)),
    frame(0x2, new Uint8Array(70_000).fill(9)),
  ];
  const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    all.set(b, at);
    at += b.length;
  }
  for (const step of [1, 3, 7, 1000, all.length]) {
    const sink = new Sink();
    const d = new WsFrameDecoder(100_000);
    const copy = all.slice();
    for (let i = 0; i < copy.length; i += step) d.push(copy.subarray(i, i + step), sink);
    strictEqual(sink.data.length, 3 + 300 + 70_000, `step ${step}`);
    deepStrictEqual(sink.data.slice(0, 4), [1, 2, 3, 7]);
    deepStrictEqual(sink.controls, ["9:hi"]);
    deepStrictEqual(sink.errors, []);
  }
});

Deno.test("WsFrameDecoder.push() refuses text, unmasked, oversized and stray continuation frames", () => {
  const cases: [Uint8Array, number][] = [
    [frame(0x1, enc.encode("x")), 1003],
    [frame(0x2, enc.encode("x"), { mask: false }), 1002],
    [frame(0x2, new Uint8Array(11)), 1009],
    [frame(0x0, enc.encode("x")), 1002],
    [frame(0x9, new Uint8Array(1), { fin: false }), 1002],
  ];
  for (const [bytes, code] of cases) {
    const sink = new Sink();
    new WsFrameDecoder(10).push(bytes.slice(), sink);
    deepStrictEqual(sink.errors, [code]);
  }
});

Deno.test("checkUpgrade() finds the auth cookie and the forwarded address", () => {
  const ws = loadConfig({
    sets: [
      "listeners.ws.a.bind=127.0.0.1:0",
      "listeners.ws.a.websocket.auth_cookie_name=jwt",
      "listeners.ws.a.websocket.proxy_address_header=X-Real-IP",
    ],
  }).listeners.ws.a!.websocket;
  const req =
    "GET /mqtt?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    'Sec-WebSocket-Protocol: mqtt\r\nCookie: a=1; jwt="eyJ.x.y"\r\nX-Real-IP: 198.51.100.4\r\n\r\n';
  const u = checkUpgrade(enc.encode(req), ws);
  ok(u.kind === "accepted", JSON.stringify(u));
  strictEqual(u.cookie, "eyJ.x.y");
  strictEqual(u.forwardedFor, "198.51.100.4");
  // RFC 6455's example key and accept value.
  ok(new TextDecoder().decode(u.response).includes("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  strictEqual(cookieValue("a=1;b=2", "c"), "");
  strictEqual(checkUpgrade(enc.encode(req.slice(0, 40)), ws).kind, "need-more");
});

Deno.test("a paused shard stops reading a WebSocket client (its writes block)", async () => {
  await configure({ reset: true, sinks: { none: () => {} }, loggers: [] });
  const config = loadConfig({
    shards: 1,
    sets: [
      "listeners.tcp.default.bind=127.0.0.1:0",
      "dashboard.listeners.http.enable=false",
      `node.data_dir=${DATA_DIR}`,
      "listeners.ws.default.bind=127.0.0.1:0",
      "ipc.ring_size=64KB",
      "mqtt.max_packet_size=4KB",
    ],
  });
  const { workerUrl, channel } = echoShard();
  const bc = new BroadcastChannel(channel);
  const sup = await startSupervisor(config, { workerUrl });
  let ws: WsRaw | null = null;
  try {
    const port = sup.addresses.get("ws:default")!.port;
    ws = await WsRaw.open(port);
    strictEqual(ws.status, 101);
    const id = enc.encode("ws1");
    await ws.sendBinary(
      Uint8Array.from([
        0x10,
        12 + id.length,
        0,
        4,
        77,
        81,
        84,
        84,
        4,
        2,
        0,
        60,
        0,
        id.length,
        ...id,
      ]),
    );
    await ws.sendBinary(enc.encode("pause"));
    // The echo of "pause" comes after the InputPause record: from then on the pause holds.
    for (let seen = ""; !seen.includes("pause");) {
      const f = await ws.readFrame();
      ok(f, "echo frames");
      seen += new TextDecoder().decode(f.payload);
    }
    const big = frame(0x2, new Uint8Array(1 << 20).fill(0x61));
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 64; i++) {
        await ws!.write(big);
        written += big.length;
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    console.log(`paused: ${written} bytes written`);
    ok(written < 32 << 20, `a paused WebSocket took ${written} bytes`);
    bc.postMessage({ cmd: "resume", index: fnv1a32("ws1") % 1 });
    // Resumed: the rest goes through (the client must read the echoes for that).
    const draining = (async () => {
      while (!(await ws!.closedByServer(50)) && written < 64 * big.length) { /* read echoes */ }
    })();
    await writing;
    await draining;
    strictEqual(written, 64 * big.length);
  } finally {
    ws?.close();
    await sup.stop();
    bc.close();
    await reset();
  }
});
