/**
 * Integration suite 27 (durable sessions, full store, issue 13): with
 * `durable_sessions.max_store_size` reached, a new QoS 1 message for a persistent session is
 * refused: MQTT 5 PUBACK 0x97 Quota exceeded [MQTT-3.4.2.1], MQTT 3.1.1 (no such code) by
 * closing the connection. The refusal is logged (at most once a minute); everything else goes
 * on: the subscriber drains its queue (acknowledgements are still committed) and then new
 * messages are accepted again.
 *
 * Broker: 1 shard, durable sessions, max_store_size 1MB.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { brokerKind, logged, startBroker } from "./_helpers/broker.ts";
import {
  closeAll,
  collect,
  connect,
  disconnect,
  subscribe,
  waitClosed,
} from "./_helpers/clients.ts";

Deno.test({
  name:
    "27 durable: a full store refuses QoS 1 for persistent sessions (0x97 / close), then recovers",
  ignore: brokerKind() !== "culex",
  async fn() {
    const broker = await startBroker({
      sets: ["durable_sessions.enable=true", "durable_sessions.max_store_size=1MB"],
    });
    const session = { clean: false, properties: { sessionExpiryInterval: 600 } };
    let sub = null, pub5 = null, pub4 = null;
    try {
      sub = await connect(broker.url, { protocolVersion: 5, clientId: "f27sub", ...session });
      await subscribe(sub, "f27/#", { qos: 1 });
      await disconnect(sub);
      pub5 = await connect(broker.url, { protocolVersion: 5, clientId: "f27pub5" });
      const payload = "z".repeat(16 * 1024);
      let accepted = 0;
      let refusal: number | null = null;
      // 1MB holds at most ~60 such messages: bounded well above that.
      for (let i = 0; i < 200 && refusal === null; i++) {
        try {
          await pub5.publishAsync("f27/a", payload, { qos: 1 });
          accepted++;
        } catch (e) {
          refusal = (e as { code?: number }).code ?? -1;
        }
      }
      assertEquals(refusal, 0x97, `PUBACK reason after ${accepted} accepted`);
      assert(accepted > 10, `accepted before the store was full: ${accepted}`);
      assert(await logged(broker, /Store commit refused \(full\)/), broker.logs());
      // MQTT 3.1.1 has no refusal code: the connection is closed.
      pub4 = await connect(broker.url, { protocolVersion: 4, clientId: "f27pub4" });
      pub4.publish("f27/b", payload, { qos: 1 });
      await waitClosed(pub4, 10_000);
      // The subscriber gets what was accepted; its acknowledgements free the space.
      sub = await connect(broker.url, { protocolVersion: 5, clientId: "f27sub", ...session });
      const got = await collect(sub, accepted, 15_000);
      assertEquals(got.length, accepted, "every accepted message delivered");
      await new Promise((r) => setTimeout(r, 500)); // its PUBACKs are committed
      await pub5.publishAsync("f27/a", "small again", { qos: 1 });
      const again = await collect(sub, 1, 10_000);
      assertEquals(again[0]!.payload, "small again", "accepted again once space was freed");
    } finally {
      await closeAll([sub, pub5, pub4]);
      await broker.stop();
    }
  },
});
