/**
 * Integration suite 21: what every listener type shares — access_rules (first match wins, on
 * the socket's address and on a PROXY header's), HAProxy PROXY protocol v1 and v2 (the real
 * client address replaces the peer, as the $SYS connected event shows; a missing or late header
 * closes the connection), PROXY protocol in front of TLS and WebSocket, max_connections on a
 * WebSocket listener, and `enable = false`. Clients bind source addresses in 127.0.0.0/8.
 */

import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { type BrokerHandle, logged, startBroker } from "./_helpers/broker.ts";
import { makeCerts } from "./_helpers/certs.ts";
import { closeAll, connect, runTag, subscribe, takeMatching } from "./_helpers/clients.ts";
import { concat, connectPacket, PacketType } from "./_helpers/packets.ts";
import { WsRaw } from "./_helpers/ws_raw.ts";

const enc = new TextEncoder();

/** A TCP connection from `localAddress` that collects what it reads. */
class Peer {
  readonly sock: Socket;
  received: Uint8Array = new Uint8Array(0);
  closed = false;
  #ready: Promise<void>;

  constructor(port: number, localAddress = "127.0.0.1") {
    this.sock = netConnect({ host: "127.0.0.1", port, localAddress });
    this.#ready = new Promise((resolve, reject) => {
      this.sock.once("connect", () => resolve());
      this.sock.once("error", reject);
    });
    this.sock.on("error", () => {});
    this.sock.on("data", (d: Uint8Array) => {
      this.received = concat([this.received, d]);
    });
    this.sock.on("close", () => this.closed = true);
  }

  async send(bytes: Uint8Array): Promise<void> {
    await this.#ready;
    await new Promise<void>((resolve) => this.sock.write(bytes, () => resolve()));
  }

  /** Resolves "connack" when a CONNACK arrived, "closed" when the broker closed first. */
  async outcome(ms = 5000): Promise<"connack" | "closed" | "timeout"> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.received.length >= 4 && this.received[0] === 0x20) return "connack";
      if (this.closed) return "closed";
      await new Promise((r) => setTimeout(r, 10));
    }
    return "timeout";
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A PROXY v2 header; `tlvs` follow the addresses (HAProxy's send-proxy-v2-ssl-cn). */
function proxyV2(src: number[], srcPort: number, tlvs: number[] = []): Uint8Array {
  const sig = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  const six = src.length === 16;
  const dst = six ? [...Array(15).fill(0), 1] : [127, 0, 0, 1];
  const addr = [...src, ...dst, srcPort >> 8, srcPort & 0xff, 0x07, 0x5b, ...tlvs];
  return Uint8Array.from([...sig, 0x21, six ? 0x21 : 0x11, 0, addr.length, ...addr]);
}

Deno.test("21 listeners: access_rules, PROXY protocol, limits", async (t) => {
  const certs = await makeCerts();
  const config = `listeners:
  tcp:
    default:
      bind: 127.0.0.1:0
    acl:
      bind: 127.0.0.1:0
      access_rules: ["deny 127.0.0.5", "allow 127.0.0.0/8", "deny all"]
    proxied:
      bind: 127.0.0.1:0
      proxy_protocol: true
      proxy_protocol_timeout: 500ms
      access_rules: "allow 127.0.0.1, deny 10.9.0.0/16, allow 10.0.0.0/8, allow 2001:db8::/32, deny all"
    off:
      enable: false
      bind: 127.0.0.1:0
  ssl:
    proxied:
      bind: 127.0.0.1:0
      proxy_protocol: true
      ssl_options:
        certfile: ${certs.serverCert}
        keyfile: ${certs.serverKey}
  ws:
    proxied:
      bind: 127.0.0.1:0
      proxy_protocol: true
    two:
      bind: 127.0.0.1:0
      max_connections: 2
mqtt:
  peer_cert_as_username: cn
`;
  const broker: BrokerHandle = await startBroker({
    config,
    listeners: ["tcp:acl", "tcp:proxied", "ssl:proxied", "ws:proxied", "ws:two"],
  });
  const tag = runTag();
  const clients: MqttClient[] = [];
  const peers: Peer[] = [];
  const peer = (port: number, local?: string) => {
    const p = new Peer(port, local);
    peers.push(p);
    return p;
  };
  try {
    const watcher = await connect(broker.url, { protocolVersion: 4, clientId: `${tag}w` });
    clients.push(watcher);
    await subscribe(watcher, "$SYS/brokers/+/clients/+/connected", { qos: 0 });
    const seen = async (clientId: string) => {
      const ev = await takeMatching(
        watcher,
        (m) => m.topic.includes(`/clients/${clientId}/`),
        5000,
      );
      return JSON.parse(ev.payload) as { ipaddress: string; username: string | null };
    };
    const seenAddress = async (clientId: string) => (await seen(clientId)).ipaddress;

    await t.step("access_rules: first match wins on the client's address", async () => {
      const port = broker.portOf("tcp:acl");
      const denied = peer(port, "127.0.0.5");
      await denied.send(connectPacket({ version: 4, clientId: `${tag}d` }));
      assertEquals(await denied.outcome(), "closed", "127.0.0.5 matches deny 127.0.0.5");
      const allowed = peer(port, "127.0.0.6");
      await allowed.send(connectPacket({ version: 4, clientId: `${tag}a` }));
      assertEquals(await allowed.outcome(), "connack", "127.0.0.6 matches allow 127.0.0.0/8");
      assertEquals(await seenAddress(`${tag}a`), "127.0.0.6", "peer address");
    });

    await t.step("PROXY v1 and v2: the header's address is the client's", async () => {
      const port = broker.portOf("tcp:proxied");
      const cases: [string, Uint8Array, string][] = [
        ["v1", enc.encode("PROXY TCP4 10.1.2.3 127.0.0.1 40001 1883\r\n"), "10.1.2.3"],
        ["v1 TCP6", enc.encode("PROXY TCP6 2001:db8::7 ::1 40002 1883\r\n"), "2001:db8::7"],
        ["v2", proxyV2([10, 4, 5, 6], 40003), "10.4.5.6"],
        [
          "v2 IPv6",
          proxyV2([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 9], 40004),
          "2001:db8::9",
        ],
      ];
      for (const [what, header, address] of cases) {
        const id = `${tag}${what.replace(/\W/g, "")}`;
        const p = peer(port);
        // Header and CONNECT in one write: the bytes after the header are MQTT.
        await p.send(concat([header, connectPacket({ version: 4, clientId: id })]));
        assertEquals(await p.outcome(), "connack", `${what}: CONNACK`);
        assertEquals(await seenAddress(id), address, `${what}: address`);
      }
    });

    await t.step(
      "PROXY v2 with a verified client certificate's CN: peer_cert_as_username",
      async () => {
        const port = broker.portOf("tcp:proxied");
        const cn = [...enc.encode("lb-device-7")];
        const ssl = [0x07, 0, 0, 0, 0, 0x22, 0, cn.length, ...cn]; // client flags, verify 0, CN
        const p = peer(port);
        await p.send(concat([
          proxyV2([10, 6, 6, 6], 40010, [0x20, 0, ssl.length, ...ssl]),
          connectPacket({ version: 4, clientId: `${tag}lb` }),
        ]));
        assertEquals(await p.outcome(), "connack", "CONNACK");
        const ev = await seen(`${tag}lb`);
        assertEquals(
          [ev.ipaddress, ev.username],
          ["10.6.6.6", "lb-device-7"],
          "address and username",
        );
      },
    );

    await t.step(
      "PROXY: access_rules apply to the real address; no or late header closes",
      async () => {
        const port = broker.portOf("tcp:proxied");
        const denied = peer(port);
        await denied.send(concat([
          enc.encode("PROXY TCP4 10.9.1.1 127.0.0.1 40005 1883\r\n"),
          connectPacket({ version: 4, clientId: `${tag}dn` }),
        ]));
        assertEquals(await denied.outcome(), "closed", "10.9.1.1 matches deny 10.9.0.0/16");
        const plain = peer(port);
        await plain.send(connectPacket({ version: 4, clientId: `${tag}np` }));
        assertEquals(await plain.outcome(), "closed", "no PROXY header");
        const silent = peer(port);
        await silent.send(enc.encode("PROXY TCP4 10.1."));
        const t0 = Date.now();
        assertEquals(await silent.outcome(3000), "closed", "a header not finished in time");
        assert(Date.now() - t0 >= 300, "closed by proxy_protocol_timeout (500ms), not at once");
        assert(await logged(broker, "PROXY"), "the refusals are logged");
      },
    );

    await t.step("PROXY in front of TLS and of a WebSocket upgrade", async () => {
      const raw = peer(broker.portOf("ssl:proxied"));
      await raw.send(enc.encode("PROXY TCP4 10.7.7.7 127.0.0.1 40006 8883\r\n"));
      const tls = tlsConnect({ socket: raw.sock, ca: certs.ca, servername: "localhost" });
      await new Promise<void>((resolve, reject) => {
        tls.once("secureConnect", () => resolve());
        tls.once("error", reject);
      });
      tls.write(connectPacket({ version: 4, clientId: `${tag}tls` }));
      assertEquals(await seenAddress(`${tag}tls`), "10.7.7.7", "TLS behind PROXY");
      tls.destroy();

      const ws = await WsRaw.open(broker.portOf("ws:proxied"), {
        prefix: enc.encode("PROXY TCP4 10.8.8.8 127.0.0.1 40007 8083\r\n"),
      });
      assertEquals(ws.status, 101, "upgrade behind PROXY");
      await ws.sendBinary(connectPacket({ version: 4, clientId: `${tag}ws` }));
      assertEquals((await ws.readPacket()).type, PacketType.CONNACK, "CONNACK");
      assertEquals(await seenAddress(`${tag}ws`), "10.8.8.8", "WebSocket behind PROXY");
      ws.close();
    });

    await t.step("max_connections on a WebSocket listener", async () => {
      const port = broker.portOf("ws:two");
      const a = await WsRaw.open(port);
      const b = await WsRaw.open(port);
      assertEquals([a.status, b.status], [101, 101], "two fit");
      const c = await WsRaw.open(port).then((ws) => ws.status, () => 0);
      assertEquals(c, 0, "the third is closed before any answer");
      a.close();
      b.close();
    });

    await t.step("enable = false opens nothing", () => {
      assert(!broker.logs().includes("Listener tcp:off"), "no tcp:off listener");
    });
  } finally {
    for (const p of peers) p.close();
    await closeAll(clients);
    const code = await broker.stop();
    await certs.remove();
    assertEquals(code, 0, `broker exit code; logs:\n${broker.logs()}`);
  }
});
