/**
 * Integration suite 14: $SYS topics as EMQX publishes them — `$SYS/brokers/{node}/` version,
 * uptime, datetime, sysdescr and stats/* (broker-wide across shards, each with its max) every
 * `sys_topics.sys_msg_interval`; `#` not matching `$SYS`. Metrics, client events and `$SYS` not
 * writable: 14_sys_events_test.ts.
 *
 * Broker: --shards 4 --set sys_topics.sys_msg_interval=1s --set node.name=n1@127.0.0.1.
 * Judged per MQTT 5.0 section 4.7.2 [MQTT-4.7.2-1] and EMQX's $SYS layout and event payloads.
 */

import type { MqttClient } from "mqtt";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  closeAll,
  connect,
  drain,
  publish,
  runTag,
  sleep,
  subscribe,
  topicForShard,
} from "./_helpers/clients.ts";
import { brokerKind } from "./_helpers/broker.ts";
import { COUNTS, METRICS, STATS } from "./_helpers/sys.ts";
import { SYS, SYS_SHARDS, withSysWatcher } from "./_helpers/sys.ts";

/** EMQX's $SYS layout is not Mosquitto's: those steps run against Culex only. */
const EMQX_ONLY = brokerKind() === "mosquitto";

Deno.test({ name: "14 sys: shards=4" }, async (t) => {
  const tag = runTag();
  const base = `t14/${tag}`;
  await withSysWatcher("c14", async ({ broker: b, id, watcher, sys }) => {
    await t.step({
      name: "every $SYS/brokers/{node}/ topic each interval, integers as text, ISO 8601 datetime",
      ignore: EMQX_ONLY,
      fn: async () => {
        await drain(watcher, 0);
        const got = await drain(watcher, 2_600);
        const byTopic = new Map<string, string[]>();
        for (const m of got) {
          const k = m.topic.slice(SYS.length + 1);
          byTopic.set(k, [...(byTopic.get(k) ?? []), m.payload]);
        }
        const missing = ["version", "uptime", "datetime", "sysdescr", ...STATS, ...METRICS]
          .filter((k) => !byTopic.has(k));
        assertEquals(missing, [], `topics missing under ${SYS}/ (got ${[...byTopic.keys()]})`);
        const uptimes = byTopic.get("uptime") ?? [];
        assert(uptimes.length >= 2, `uptime published every 1 s: ${uptimes.length} in 2.6 s`);
        assert(uptimes.every((u) => /^\d+$/.test(u)), `uptime in whole seconds: ${uptimes}`);
        assert(Number(uptimes.at(-1)) > Number(uptimes[0]), `uptime grows: ${uptimes}`);
        const dt = byTopic.get("datetime")?.at(-1) ?? "";
        assert(
          /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(dt) &&
            Math.abs(Date.parse(dt) - Date.now()) < 60_000,
          `datetime "${dt}" is ISO 8601 and now`,
        );
        assert((byTopic.get("version")?.at(-1) ?? "").length > 0, "version");
        assert((byTopic.get("sysdescr")?.at(-1) ?? "").length > 0, "sysdescr");
        const notInt = [...STATS, ...METRICS].filter((k) =>
          !(byTopic.get(k) ?? []).every((x) => /^\d+$/.test(x))
        );
        assertEquals(notInt, [], "stats and metrics as integer text");
        assert(got.every((m) => !m.packet.retain), "$SYS messages are live, not retained");
      },
    });

    await t.step("# and +/... do not match $SYS topics [MQTT-4.7.2-1]", async () => {
      const all = await connect(b.url, { protocolVersion: 5, clientId: id(1, "all") });
      try {
        await subscribe(all, "#", { qos: 0 });
        await subscribe(all, "+/brokers/#", { qos: 0 });
        await sleep(1_500);
        await publish(watcher, `${base}/canary`, "canary", { qos: 1 });
        // Everything the subscriber got up to the canary (bounded: 10 s), not what 300 ms held.
        const got: Awaited<ReturnType<typeof drain>> = [];
        for (let i = 0; i < 200 && !got.some((m) => m.payload === "canary"); i++) {
          got.push(...await drain(all, 50));
        }
        assertEquals(
          got.filter((m) => m.topic.startsWith("$")).map((m) => m.topic).slice(0, 5),
          [],
          "no $ topics through # or +",
        );
        assert(got.some((m) => m.payload === "canary"), "the subscription itself works");
      } finally {
        await closeAll([all]);
      }
    });

    await t.step({
      name:
        "stats count connections, sessions, subscriptions and topics across shards; max ≥ count",
      ignore: EMQX_ONLY,
      fn: async () => {
        const before = await sys.settled(COUNTS);
        const clients: MqttClient[] = [];
        try {
          for (const s of [1, 2, 3]) {
            const c = await connect(b.url, {
              protocolVersion: s === 2 ? 4 : 5,
              clientId: id(s, "st"),
            });
            clients.push(c);
            await subscribe(c, `${base}/c/${s}`, { qos: 0 });
            await subscribe(c, `${base}/common/#`, { qos: 0 });
          }
          const want = (k: string, d: number) => (v: Record<string, number>) =>
            v[k] === (before[k] ?? NaN) + d;
          const up = await sys.waitFor(
            [...COUNTS, ...COUNTS.map((k) => k.replace("count", "max"))],
            (v) =>
              want("stats/connections/count", 3)(v) && want("stats/sessions/count", 3)(v) &&
              want("stats/subscriptions/count", 6)(v) && want("stats/topics/count", 4)(v),
            `after 3 clients (3 sessions, 6 subscriptions, 4 new filters) on 3 shards; before ${
              JSON.stringify(before)
            }`,
          );
          for (const k of COUNTS) {
            const max = up[k.replace("count", "max")] ?? NaN;
            assert(max >= (up[k] ?? Infinity), `${k}: max ${max} ≥ count ${up[k]}`);
          }
        } finally {
          await closeAll(clients);
        }
        const down = await sys.waitFor(
          [...COUNTS, "stats/connections/max"],
          (v) => COUNTS.every((k) => v[k] === before[k]),
          `back to the baseline after the clients left; before ${JSON.stringify(before)}`,
        );
        assert(
          (down["stats/connections/max"] ?? 0) >= (before["stats/connections/count"] ?? 0) + 3,
          `connections/max keeps the peak: ${JSON.stringify(down)}`,
        );
      },
    });

    await t.step({
      name: "stats/retained counts retained messages on every shard",
      ignore: EMQX_ONLY,
      fn: async () => {
        const pub = await connect(b.url, { protocolVersion: 5, clientId: id(1, "rp") });
        const topics = [1, 2].map((s) => topicForShard(s, SYS_SHARDS, `${base}/r`));
        try {
          await sys.reset();
          const r0 = (await sys.waitFor(["stats/retained/count"], () =>
            true, "baseline"))["stats/retained/count"] ?? 0;
          for (const tp of topics) {
            await publish(pub, tp, "kept", { qos: 1, retain: true });
          }
          await sys.waitFor(
            ["stats/retained/count", "stats/retained/max"],
            (v) =>
              v["stats/retained/count"] === r0 + 2 && (v["stats/retained/max"] ?? 0) >= r0 + 2,
            `two retained topics on two shards (from ${r0})`,
          );
          await publish(pub, topics[0] ?? "", "", { qos: 1, retain: true });
          await sys.waitFor(
            ["stats/retained/count"],
            (v) =>
              v["stats/retained/count"] === r0 + 1,
            `one cleared (from ${r0})`,
          );
        } finally {
          for (const tp of topics) {
            await publish(pub, tp, "", { qos: 1, retain: true }).catch(() => {});
          }
          await closeAll([pub]);
        }
      },
    });
  });
});
