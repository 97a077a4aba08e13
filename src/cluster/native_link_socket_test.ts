import assert from "node:assert/strict";
import { listenNative, NativeLinkSocket } from "./native_link_socket.ts";

/** Resolves once `pred` holds (bounded: 500 checks 10 ms apart). */
async function until(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), "condition not reached");
}

Deno.test("NativeLinkSocket: bytes arrive in order, drain fires, end() closes the peer", async () => {
  let server: NativeLinkSocket | null = null;
  const received: number[] = [];
  let serverClosed = 0;
  const listener = listenNative("127.0.0.1", 0, (s) => {
    server = s;
    s.on("data", (chunk) => received.push(...chunk));
    s.on("close", () => serverClosed++);
  });
  const client = NativeLinkSocket.dial("127.0.0.1", listener.port);
  let connected = false;
  let drains = 0;
  let clientClosed = 0;
  client.once("connect", () => (connected = true));
  client.on("drain", () => drains++);
  client.on("close", () => clientClosed++);
  // Written before the connection exists: queued, then sent in order.
  const sent: number[] = [];
  for (let i = 0; i < 300; i++) {
    const b = new Uint8Array(1 + (i * 37) % 3000).fill(i & 0xff);
    sent.push(...b);
    client.write(b);
  }
  await until(() => received.length === sent.length);
  assert.ok(connected);
  assert.deepEqual(received, sent);
  await until(() => client.writableLength === 0 && drains > 0);
  assert.equal(client.remoteAddress, "127.0.0.1");
  assert.equal(client.remotePort, listener.port);
  client.end();
  await until(() => serverClosed === 1);
  server!.destroy();
  await until(() => clientClosed === 1);
  client.destroy(); // a second close is a no-op
  assert.equal(clientClosed, 1);
  listener.close();
});

Deno.test("NativeLinkSocket: a refused dial reports an error, then closes", async () => {
  const port = listenNative("127.0.0.1", 0, () => {});
  port.close();
  const s = NativeLinkSocket.dial("127.0.0.1", port.port);
  const events: string[] = [];
  s.on("error", () => events.push("error"));
  s.on("close", () => events.push("close"));
  await until(() => events.length === 2);
  assert.deepEqual(events, ["error", "close"]);
  assert.equal(s.write(new Uint8Array([1])), false);
});
