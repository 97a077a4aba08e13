/**
 * Test helper for the WebSocket suites (20_websocket, 20_ws_browser): the broker they share the
 * shape of (ws listeners default, origin, proxied, small and a wss one, 2 shards), a raw CONNECT
 * over a WebSocket, and a check that the broker still answers. Owns the broker and certificates
 * it starts, and stops and removes them.
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./assert.ts";
import { type BrokerHandle, startBroker } from "./broker.ts";
import { makeCerts, type TestCerts } from "./certs.ts";
import { closeAll, runTag } from "./clients.ts";
import { connectPacket, PacketType, PINGREQ } from "./packets.ts";
import { WsRaw } from "./ws_raw.ts";

/** The listeners of the WebSocket suites' broker, for certificates `c`. */
export function wsConfig(c: TestCerts): string {
  return `listeners:
  tcp:
    default:
      bind: 127.0.0.1:0
  ws:
    default:
      bind: 127.0.0.1:0
    origin:
      bind: 127.0.0.1:0
      websocket:
        check_origin_enable: true
        allow_origin_absence: false
        check_origins: "http://good.example, https://also.example"
    proxied:
      bind: 127.0.0.1:0
      websocket:
        proxy_address_header: X-Forwarded-For
        fail_if_no_subprotocol: false
    small:
      bind: 127.0.0.1:0
      websocket:
        max_frame_size: 1KB
  wss:
    default:
      bind: 127.0.0.1:0
      ssl_options:
        certfile: ${c.serverCert}
        keyfile: ${c.serverKey}
mqtt:
  max_mqueue_len: 100
`;
}

/** CONNECT + CONNACK over a raw WebSocket; returns the open connection. */
export async function rawConnect(port: number, clientId: string): Promise<WsRaw> {
  const ws = await WsRaw.open(port);
  assertEquals(ws.status, 101, `upgrade: ${ws.responseHead}`);
  await ws.sendBinary(connectPacket({ version: 4, clientId }));
  const p = await ws.readPacket();
  assertEquals(p.type, PacketType.CONNACK, "CONNACK");
  return ws;
}

/** A fresh raw WebSocket client gets PINGRESP to PINGREQ: the broker still answers. */
export async function healthyAfter(port: number, id: string): Promise<void> {
  const ws = await rawConnect(port, id);
  await ws.sendBinary(PINGREQ);
  assertEquals((await ws.readPacket(10_000)).type, PacketType.PINGRESP, "broker still answers");
  ws.close();
}

/** What withWsBroker() hands its body; clients and raws pushed here are closed at the end. */
export interface WsSuite {
  readonly broker: BrokerHandle;
  readonly certs: TestCerts;
  readonly tag: string;
  /** Port of ws:default. */
  readonly wsPort: number;
  readonly clients: MqttClient[];
  readonly raws: WsRaw[];
}

/**
 * Starts the WebSocket suites' broker with fresh certificates, runs `body`, then closes what it
 * left open, stops the broker and asserts it exited 0.
 */
export async function withWsBroker(body: (s: WsSuite) => Promise<void>): Promise<void> {
  const certs = await makeCerts();
  const broker: BrokerHandle = await startBroker({
    shards: 2,
    config: wsConfig(certs),
    listeners: ["ws:default", "ws:origin", "ws:proxied", "ws:small", "wss:default"],
  });
  const clients: MqttClient[] = [];
  const raws: WsRaw[] = [];
  try {
    await body({
      broker,
      certs,
      tag: runTag(),
      wsPort: broker.portOf("ws:default"),
      clients,
      raws,
    });
  } finally {
    for (const r of raws) r.close();
    await closeAll(clients);
    const code = await broker.stop();
    await certs.remove();
    assertEquals(code, 0, `broker exit code; logs:\n${broker.logs()}`);
  }
}
