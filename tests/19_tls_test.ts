/**
 * Integration suite 19: TLS listeners (`listeners.ssl.<name>`) as EMQX configures them —
 * server-only TLS for npm:mqtt (mqtts://) and mosquitto_pub/mosquitto_sub (--cafile), mutual TLS
 * (verify_peer with and without fail_if_no_peer_cert), a client certificate from the wrong CA,
 * TLS 1.2-only and 1.3-only listeners, mqtt.peer_cert_as_username / peer_cert_as_clientid as
 * the $SYS connected event shows them, certificates reloaded on SIGHUP without dropping
 * connections. Refused configurations: 19_tls_config_test.ts.
 *
 * Certificates are made by the test with openssl; the broker runs with 2 shards so that the
 * client id taken from a certificate must place the client (the takeover check).
 */

import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { type BrokerHandle, logged, startBroker } from "./_helpers/broker.ts";
import { makeCerts, type TestCerts } from "./_helpers/certs.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  publish,
  runTag,
  subscribe,
  takeMatching,
  waitClosed,
} from "./_helpers/clients.ts";
import { mosquittoPub, spawnMosquittoSub } from "./_helpers/mosquitto.ts";

const SHARDS = 2;

function config(c: TestCerts): string {
  const listener = (name: string, extra: string[]) =>
    [
      `    ${name}:`,
      "      bind: 127.0.0.1:0",
      "      ssl_options:",
      `        certfile: ${c.serverCert}`,
      `        keyfile: ${c.serverKey}`,
      `        cacertfile: ${c.caFile}`,
      ...extra.map((l) => `        ${l}`),
    ].join("\n");
  return [
    "listeners:",
    "  tcp:",
    "    default:",
    "      bind: 127.0.0.1:0",
    "  ssl:",
    listener("default", []),
    listener("mtls", ["verify: verify_peer", "fail_if_no_peer_cert: true"]),
    listener("optional", ["verify: verify_peer"]),
    listener("v12", ["versions: [tlsv1.2]"]),
    listener("v13", ["versions: tlsv1.3"]),
    listener("zoned", ["verify: verify_peer", "fail_if_no_peer_cert: true"]),
    "      zone: own_ids",
    "mqtt:",
    "  peer_cert_as_username: cn",
    "  peer_cert_as_clientid: dn",
    "zones:",
    "  own_ids:",
    "    mqtt:",
    "      peer_cert_as_username: disabled",
    "      peer_cert_as_clientid: disabled",
    "",
  ].join("\n");
}

/** One raw TLS connection: resolves with the socket once secure, rejects on failure. */
function rawTls(port: number, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ...opts });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("TLS connect timed out"));
    }, 5000);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Whether a TLS client gets a CONNACK (rc 0) from the listener on `port`. */
async function mqttOk(url: string, opts: Record<string, unknown>): Promise<boolean> {
  try {
    const c = await connect(url, { protocolVersion: 4, timeoutMs: 5000, ...opts });
    await closeAll([c]);
    return true;
  } catch {
    return false;
  }
}

Deno.test("19 TLS listeners", async (t) => {
  const certs = await makeCerts();
  const broker: BrokerHandle = await startBroker({
    shards: SHARDS,
    config: config(certs),
    listeners: ["ssl:default", "ssl:mtls", "ssl:optional", "ssl:v12", "ssl:v13", "ssl:zoned"],
  });
  const tag = runTag();
  const ca = certs.ca;
  const clientCert = await Deno.readTextFile(certs.clientCert);
  const clientKey = await Deno.readTextFile(certs.clientKey);
  const tlsUrl = (name: string) => `mqtts://127.0.0.1:${broker.portOf(`ssl:${name}`)}`;
  const clients: MqttClient[] = [];
  try {
    await t.step("mqtts:// clients (3.1.1 and 5) exchange messages with a TCP client", async () => {
      for (const version of [4, 5] as const) {
        const sub = await connect(tlsUrl("default"), {
          protocolVersion: version,
          clientId: clientIdForShard(0, SHARDS, `${tag}s${version}`),
          ca,
          servername: "localhost",
        });
        clients.push(sub);
        await subscribe(sub, `${tag}/tls/${version}`, { qos: 1 });
        const pub = await connect(broker.url, {
          protocolVersion: version,
          clientId: `${tag}p${version}`,
        });
        clients.push(pub);
        await publish(pub, `${tag}/tls/${version}`, "over tls", { qos: 1 });
        const [m] = await collect(sub, 1, 5000);
        assertEquals(m?.payload, "over tls", "payload through the TLS listener");
      }
    });

    await t.step("mosquitto_sub/mosquitto_pub --cafile on the TLS port", async () => {
      const port = broker.portOf("ssl:default");
      const sub = spawnMosquittoSub({
        port,
        topics: [`${tag}/mosq`],
        count: 1,
        waitSeconds: 10,
        debug: true,
        extraArgs: ["--cafile", certs.caFile],
      });
      await sub.waitFor(/received SUBACK/, 10_000);
      await mosquittoPub({
        port,
        topic: `${tag}/mosq`,
        message: "from mosquitto_pub",
        extraArgs: ["--cafile", certs.caFile],
      });
      const r = await sub.finish();
      assertEquals(r.code, 0, `mosquitto_sub exit: ${r.stderr}`);
      assert(r.stdout.includes("from mosquitto_pub"), `mosquitto_sub output: ${r.stdout}`);
    });

    await t.step("a client that trusts another CA refuses the server", async () => {
      const other = await Deno.readTextFile(certs.otherCaFile);
      let refused = false;
      await rawTls(broker.portOf("ssl:default"), { ca: other }).then((s) => s.destroy(), () => {
        refused = true;
      });
      assert(refused, "handshake with the wrong CA must fail");
    });

    await t.step(
      "mutual TLS: fail_if_no_peer_cert refuses clients without a certificate",
      async () => {
        const url = tlsUrl("mtls");
        const base = { ca, servername: "localhost", clientId: `${tag}m` };
        assert(
          await mqttOk(url, { ...base, cert: clientCert, key: clientKey }),
          "with a certificate",
        );
        assert(!(await mqttOk(url, base)), "without a certificate: refused");
        const otherCert = await Deno.readTextFile(certs.otherClientCert);
        const otherKey = await Deno.readTextFile(certs.otherClientKey);
        assert(
          !(await mqttOk(url, { ...base, cert: otherCert, key: otherKey })),
          "wrong CA: refused",
        );
        assert(await logged(broker, "Closing"), "the refusal is logged");
      },
    );

    await t.step(
      "verify_peer without fail_if_no_peer_cert: none is fine, a bad one is not",
      async () => {
        const url = tlsUrl("optional");
        const base = { ca, servername: "localhost", clientId: `${tag}o` };
        assert(await mqttOk(url, base), "without a certificate: accepted");
        assert(await mqttOk(url, { ...base, cert: clientCert, key: clientKey }), "a good one");
        const otherCert = await Deno.readTextFile(certs.otherClientCert);
        const otherKey = await Deno.readTextFile(certs.otherClientKey);
        assert(
          !(await mqttOk(url, { ...base, cert: otherCert, key: otherKey })),
          "wrong CA: refused",
        );
      },
    );

    await t.step("versions: a TLS 1.2-only and a TLS 1.3-only listener", async () => {
      const v12 = broker.portOf("ssl:v12");
      const v13 = broker.portOf("ssl:v13");
      const s12 = await rawTls(v12, { ca });
      assertEquals(s12.getProtocol(), "TLSv1.2", "v12 listener negotiates 1.2");
      s12.destroy();
      const s13 = await rawTls(v13, { ca });
      assertEquals(s13.getProtocol(), "TLSv1.3", "v13 listener negotiates 1.3");
      s13.destroy();
      let refused12 = false;
      await rawTls(v12, { ca, minVersion: "TLSv1.3" }).then((s) => s.destroy(), () => {
        refused12 = true;
      });
      assert(refused12, "a 1.3-only client cannot use the 1.2-only listener");
      let refused13 = false;
      await rawTls(v13, { ca, maxVersion: "TLSv1.2" }).then((s) => s.destroy(), () => {
        refused13 = true;
      });
      assert(refused13, "a 1.2-only client cannot use the 1.3-only listener");
    });

    await t.step("peer_cert_as_username = cn, peer_cert_as_clientid = dn", async () => {
      const watcher = await connect(broker.url, { protocolVersion: 4, clientId: `${tag}w` });
      clients.push(watcher);
      await subscribe(watcher, "$SYS/brokers/+/clients/+/connected", { qos: 0 });
      const dn = `CN=${certs.clientCn},O=Culex Tests,C=SE`;
      // Two CONNECT ids on different shards; the certificate's id must win for both, so the
      // second connection takes the first one's session over.
      const opts = { ca, servername: "localhost", cert: clientCert, key: clientKey };
      const a = await connect(tlsUrl("mtls"), {
        ...opts,
        protocolVersion: 5,
        clientId: clientIdForShard(0, SHARDS, `${tag}ca`),
        username: "claimed",
      });
      clients.push(a);
      const ev = await takeMatching(watcher, (m) => m.topic.endsWith(`/${dn}/connected`), 5000);
      const body = JSON.parse(ev.payload) as { clientid: string; username: string };
      assertEquals(body.clientid, dn, "client id from the certificate's subject");
      assertEquals(body.username, certs.clientCn, "username from the certificate's CN");
      const b = await connect(tlsUrl("mtls"), {
        ...opts,
        protocolVersion: 5,
        clientId: clientIdForShard(1, SHARDS, `${tag}cb`),
      });
      clients.push(b);
      await waitClosed(a, 5000); // taken over: same certificate, same client id, same shard

      // A listener whose zone turns peer_cert_as_* off keeps the CONNECT's own ids (EMQX reads
      // every mqtt.* key through the listener's zone).
      const own = await connect(tlsUrl("zoned"), {
        ...opts,
        protocolVersion: 5,
        clientId: `${tag}own`,
        username: "own-name",
      });
      clients.push(own);
      const ownEv = await takeMatching(
        watcher,
        (m) => m.topic.endsWith(`/${tag}own/connected`),
        5000,
      );
      const ownBody = JSON.parse(ownEv.payload) as { clientid: string; username: string };
      assertEquals(ownBody.username, "own-name", "zone own_ids: the CONNECT's username stays");
    });

    await t.step(
      "SIGHUP: new handshakes get the new certificate, open connections stay",
      async () => {
        const port = broker.portOf("ssl:default");
        const sub = await connect(tlsUrl("default"), {
          protocolVersion: 4,
          clientId: `${tag}hup`,
          ca,
          servername: "localhost",
        });
        clients.push(sub);
        await subscribe(sub, `${tag}/hup`, { qos: 1 });
        const before = await rawTls(port, { ca });
        const serialBefore = before.getPeerCertificate().serialNumber;
        before.destroy();
        await Deno.copyFile(certs.serverCert2, certs.serverCert);
        broker.signal("SIGHUP");
        const deadline = Date.now() + 5000;
        while (!broker.logs().includes("Listener ssl:default reloaded its certificates")) {
          assert(Date.now() < deadline, `no reload logged:\n${broker.logs()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const after = await rawTls(port, { ca });
        const serialAfter = after.getPeerCertificate().serialNumber;
        after.destroy();
        assert(serialBefore !== serialAfter, `serial changed (${serialBefore} -> ${serialAfter})`);
        const pub = await connect(broker.url, { protocolVersion: 4, clientId: `${tag}hupp` });
        clients.push(pub);
        await publish(pub, `${tag}/hup`, "still here", { qos: 1 });
        const [m] = await collect(sub, 1, 5000);
        assertEquals(m?.payload, "still here", "the connection opened before SIGHUP still works");
      },
    );
  } finally {
    await closeAll(clients);
    const code = await broker.stop();
    await certs.remove();
    assertEquals(code, 0, `broker exit code; logs:\n${broker.logs()}`);
  }
});
