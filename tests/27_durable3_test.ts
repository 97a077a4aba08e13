/**
 * Integration suite 27, durable store follow-ups (issue 13), on real broker processes with
 * `durable_sessions.enable: true`:
 *
 * - A persistent session's disk queue full under `drop_oldest` drops its oldest queued row
 *   unread; the `message.dropped` hook still sees that row's message, with reason `queue_full`
 *   (EMQX's), and the newest messages are delivered in order [MQTT-4.6.0-6]. A queued message
 *   whose expiry passed while its session was offline is not delivered [MQTT-3.3.2-5] and is
 *   reported with reason `expired`. (The hook is observed through the test hooks' log line,
 *   CULEX_TEST_HOOKS=1.)
 * - POST /api/v5/clients/{id}/subscribe for a persistent session is answered only after the
 *   subscription's commit, as a SUBACK: a kill -9 right after the answer keeps it, and the
 *   restarted broker queues a new message for it; with the store full (max_store_size reached)
 *   the commit is refused and so is the request (an error status, not a 200 for a
 *   subscription that is gone after a restart).
 *
 * One broker (max_store_size 1MB, filled last) for all but the kill -9 test, which starts its own.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { Api } from "./_helpers/api.ts";
import { brokerKind, startBroker } from "./_helpers/broker.ts";
import {
  closeAll,
  collect,
  connect,
  disconnect,
  expectNone,
  publish,
  sleep,
  subscribe,
} from "./_helpers/clients.ts";

const DURABLE = ["durable_sessions.enable=true", "log.level=info"];
const SESSION = {
  protocolVersion: 5 as const,
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
};

/** Waits (bounded) until the broker's log has `n` lines matching `re`; returns them. */
async function logLines(logs: () => string, re: RegExp, n: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const lines = logs().split("\n").filter((l) => re.test(l));
    if (lines.length >= n) return lines;
    await sleep(100);
  }
  return logs().split("\n").filter((l) => re.test(l));
}

Deno.test({
  name: "27 durable3: disk queue drops report message.dropped; the API reports a full store",
  ignore: brokerKind() !== "culex",
  async fn(t) {
    const broker = await startBroker({
      sets: [
        ...DURABLE,
        "mqtt.max_mqueue_len=3",
        "mqtt.mqueue_drop_policy=drop_oldest",
        "durable_sessions.max_store_size=1MB",
      ],
      env: { CULEX_TEST_HOOKS: "1" },
      listeners: ["http:dashboard"],
    });
    const pub = await connect(broker.url, { clientId: "d3pub", protocolVersion: 5 });
    try {
      await t.step(
        "drop_oldest on disk: the hook gets each dropped message, queue_full",
        async () => {
          let sub = await connect(broker.url, { clientId: "d3sub", ...SESSION });
          await subscribe(sub, "d3/q/#", { qos: 1 });
          await disconnect(sub);
          // Offline: nothing of the queue is in memory, so the two oldest go unread.
          for (let i = 1; i <= 5; i++) await publish(pub, `d3/q/${i}`, `m${i}`, { qos: 1 });
          const dropped = await logLines(broker.logs, /message\.dropped d3\/q\/\d queue_full/, 2);
          assertEquals(
            dropped.map((l) => /d3\/q\/(\d)/.exec(l)![1]),
            ["1", "2"],
            `dropped lines:\n${dropped.join("\n")}`,
          );
          sub = await connect(broker.url, { clientId: "d3sub", ...SESSION });
          const got = await collect(sub, 3, 10_000);
          assertEquals(
            got.map((m) => m.topic),
            ["d3/q/3", "d3/q/4", "d3/q/5"],
            "the newest three, in order [MQTT-4.6.0-6]",
          );
          await disconnect(sub);
        },
      );

      await t.step(
        "a queued message expired while offline: not delivered, reason expired",
        async () => {
          let sub = await connect(broker.url, { clientId: "d3exp", ...SESSION });
          await subscribe(sub, "d3/e/#", { qos: 1 });
          await disconnect(sub);
          await publish(pub, "d3/e/1", "short", {
            qos: 1,
            properties: { messageExpiryInterval: 1 },
          });
          await publish(pub, "d3/e/2", "long", { qos: 1 });
          await sleep(1500); // past the first one's expiry interval
          sub = await connect(broker.url, { clientId: "d3exp", ...SESSION });
          const got = await collect(sub, 1, 10_000);
          assertEquals(got.map((m) => m.topic), ["d3/e/2"], "not the expired one [MQTT-3.3.2-5]");
          await expectNone(sub, 300);
          const expired = await logLines(broker.logs, /message\.dropped d3\/e\/1 expired/, 1);
          assertEquals(expired.length, 1, broker.logs());
          await disconnect(sub);
        },
      );

      await t.step("the API's subscribe with the store full: an error, not a 200", async () => {
        const sub = await connect(broker.url, { clientId: "d3full", ...SESSION });
        await disconnect(sub);
        // Fill the store with delayed messages (on disk in durable mode) until it refuses.
        const payload = "z".repeat(16 * 1024);
        let refusal: number | null = null;
        // 1MB holds at most ~60 such messages: bounded well above that.
        for (let i = 0; i < 200 && refusal === null; i++) {
          try {
            await pub.publishAsync("$delayed/3600/d3f/a", payload, { qos: 1 });
          } catch (e) {
            refusal = (e as { code?: number }).code ?? -1;
          }
        }
        assertEquals(refusal, 0x97, "the store is full: PUBACK 0x97 [MQTT-3.4.2.1]");
        const api = new Api(broker.portOf("http:dashboard"));
        await api.asAdmin();
        // A 50 KB filter needs new (overflow) pages whatever room the last pages have left.
        const topic = `d3f2/${"x".repeat(50_000)}/#`;
        const r = await api.post("/clients/d3full/subscribe", { topic, qos: 1 });
        assertEquals(r.status, 503, `refused, not a success: ${r.text.slice(0, 300)}`);
        // The answer names the store's refusal, not "did not answer in time".
        assert(
          /^The broker refused: The store refused the change/.test(r.json.message),
          `the reason in the answer: ${r.text.slice(0, 300)}`,
        );
        assert(
          /clients\.subscribe: The store refused the change/.test(broker.logs()),
          `the refusal is the store's: ${broker.logs().slice(-2000)}`,
        );
      });
    } finally {
      await closeAll([pub]);
      const code = await broker.stop();
      assertEquals(code, 0, broker.logs());
    }
  },
});

Deno.test({
  name: "27 durable3: the API's subscribe answers after the commit: kill -9 right after keeps it",
  ignore: brokerKind() !== "culex",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "culex_test_27d3_" });
    let broker = await startBroker({ dataDir: dir, sets: DURABLE, listeners: ["http:dashboard"] });
    try {
      const sub = await connect(broker.url, { clientId: "d3api", ...SESSION });
      await disconnect(sub);
      const api = new Api(broker.portOf("http:dashboard"));
      await api.asAdmin();
      const r = await api.post("/clients/d3api/subscribe", { topic: "d3/api/#", qos: 1 });
      assertEquals(r.status, 200, `subscribe: ${r.text}`);
      broker.kill(); // at once: only what was committed before the answer survives
      await broker.stop();

      broker = await startBroker({ dataDir: dir, sets: DURABLE });
      const pub = await connect(broker.url, { clientId: "d3apipub", protocolVersion: 5 });
      await publish(pub, "d3/api/x", "after restart", { qos: 1 });
      const back = await connect(broker.url, { clientId: "d3api", ...SESSION });
      const got = await collect(back, 1, 10_000);
      assertEquals(got[0]!.topic, "d3/api/x", "queued for the API's subscription");
      assertEquals(got[0]!.payload, "after restart", "the message published after the restart");
      await closeAll([pub, back]);
    } finally {
      await broker.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
