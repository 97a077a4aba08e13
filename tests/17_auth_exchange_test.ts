/**
 * 17 enhanced authentication: the MQTT 5 AUTH exchange (section 4.12) end to end with npm:mqtt,
 * using the challenge-response test method the broker registers under CULEX_TEST_HOOKS=1 (the
 * client must return the challenge reversed). Real methods (SCRAM) plug into the same interface.
 */

import mqtt, { type IConnackPacket, type MqttClient } from "mqtt";
import { assertEquals } from "./_helpers/assert.ts";
import { runTag } from "./_helpers/clients.ts";
import { withBroker } from "./_helpers/suite.ts";

const METHOD = "culex-test-reverse";

/** Closes the socket at once and waits (at most 2 s) for the close. */
async function destroy(client: MqttClient): Promise<void> {
  if (client.disconnected) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    client.end(true, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

type Outcome = { connack: IConnackPacket; client: MqttClient } | {
  error: string;
  /** The refusing CONNACK's Reason String, when one came. */
  reasonString?: string;
};

/** Connects with `method`, answering each challenge with `answer`; bounded to 10 s. */
function connectWithAuth(
  url: string,
  clientId: string,
  method: string,
  answer: (challenge: Uint8Array) => Uint8Array,
): Promise<Outcome> {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId,
    reconnectPeriod: 0,
    properties: { authenticationMethod: method },
  });
  client.handleAuth = (packet, cb) => {
    const challenge = new Uint8Array(packet.properties?.authenticationData ?? []);
    cb(undefined, {
      cmd: "auth",
      reasonCode: 0x18,
      properties: {
        authenticationMethod: method,
        authenticationData: Buffer.from(answer(challenge)),
      },
    });
  };
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => done({ error: "timeout" }), 10_000);
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if ("error" in o) void destroy(client);
      resolve(o);
    };
    client.once("connect", (connack) => done({ connack, client }));
    client.on("packetreceive", (p) => {
      if (p.cmd === "connack" && (p.reasonCode ?? 0) >= 0x80) {
        refusal = p.properties?.reasonString;
      }
    });
    let refusal: string | undefined;
    client.once("error", (err) => {
      done(
        refusal === undefined
          ? { error: err.message }
          : { error: err.message, reasonString: refusal },
      );
    });
    client.once("close", () => done({ error: "closed" }));
  });
}

Deno.test("17 auth exchange", async (t) => {
  await withBroker({ shards: 2, env: { CULEX_TEST_HOOKS: "1" } }, async (broker) => {
    const tag = runTag();
    await t.step(
      "right answer: AUTH 0x18 challenge, then CONNACK 0x00 with the method",
      async () => {
        const o = await connectWithAuth(
          broker.url,
          `${tag}-ok`,
          METHOD,
          (c) => c.slice().reverse(),
        );
        if ("error" in o) {
          throw new Error(`connect failed: ${o.error}`);
        }
        try {
          assertEquals(o.connack.reasonCode ?? 0, 0, "CONNACK reason");
          assertEquals(o.connack.properties?.authenticationMethod, METHOD, "CONNACK method");
          await o.client.publishAsync(`${tag}/t`, "x", { qos: 1 }); // the session works
        } finally {
          await destroy(o.client);
        }
      },
    );
    await t.step("wrong answer: CONNACK 0x87 Not authorized", async () => {
      const o = await connectWithAuth(broker.url, `${tag}-bad`, METHOD, (c) => c);
      assertEquals("error" in o, true, "connection refused");
      if ("error" in o) {
        assertEquals(/Not authorized/i.test(o.error), true, `error: ${o.error}`);
        // MQTT 5 lets the server say why in a Reason String (section 3.2.2.3.7).
        assertEquals(o.reasonString, "Wrong answer to the challenge", "CONNACK reason string");
      }
    });
    await t.step("unknown method: CONNACK 0x8C Bad authentication method", async () => {
      const o = await connectWithAuth(broker.url, `${tag}-unk`, "NOPE", (c) => c);
      assertEquals("error" in o, true, "connection refused");
      if ("error" in o) {
        assertEquals(/Bad authentication method/i.test(o.error), true, `error: ${o.error}`);
      }
    });
  });
});
