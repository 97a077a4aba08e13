/**
 * 10 shards: a shard that crashes is restarted by the supervisor; only its clients are
 * disconnected, everyone else keeps going, and the restarted shard routes again both ways.
 * The crash is injected (CULEX_TEST_HOOKS=1 enables `$culex/fault/crash-shard`), the way a
 * bug would throw outside every handler.
 */

import { assert } from "./_helpers/assert.ts";
import {
  clientIdForShard,
  closeAll,
  collect,
  connect,
  publish,
  runTag,
  subscribe,
  waitClosed,
} from "./_helpers/clients.ts";
import { logged } from "./_helpers/broker.ts";
import { withBroker } from "./_helpers/suite.ts";

const SHARDS = 4;

Deno.test("10 shards: a crashed shard is restarted and only its clients reconnect", async () => {
  await withBroker(
    { shards: SHARDS, env: { CULEX_TEST_HOOKS: "1" } },
    async (broker) => {
      const tag = runTag();
      const url = broker.url;
      // One subscriber on shard 0, a publisher on shard 2, a victim on shard 1.
      const sub = await connect(url, {
        protocolVersion: 5,
        clientId: clientIdForShard(0, SHARDS, `${tag}s`),
      });
      const pub = await connect(url, {
        protocolVersion: 4,
        clientId: clientIdForShard(2, SHARDS, `${tag}p`),
      });
      const victimId = clientIdForShard(1, SHARDS, `${tag}v`);
      const victim = await connect(url, { protocolVersion: 5, clientId: victimId });
      let reborn = null;
      try {
        await subscribe(sub, `${tag}/#`, { qos: 1 });
        await subscribe(victim, `${tag}/#`, { qos: 1 });
        await publish(pub, `${tag}/before`, "1", { qos: 1 });
        await collect(sub, 1, 5000);

        victim.publish("$culex/fault/crash-shard", "boom", { qos: 0 });
        await waitClosed(victim, 10_000);

        // Everyone else carries on through the restart.
        for (let i = 0; i < 20; i++) await publish(pub, `${tag}/during`, String(i), { qos: 1 });
        const got = await collect(sub, 20, 10_000);
        assert(got.every((m, i) => m.payload === String(i)), "order kept across the restart");

        // The restarted shard accepts clients again and routes in both directions.
        reborn = await connect(url, { protocolVersion: 5, clientId: victimId, timeoutMs: 15_000 });
        await subscribe(reborn, `${tag}/after`, { qos: 1 });
        await publish(pub, `${tag}/after`, "x", { qos: 1 });
        const [m] = await collect(reborn, 1, 5000);
        assert(m?.payload === "x", "the restarted shard receives routed messages");
        await publish(reborn, `${tag}/from-reborn`, "y", { qos: 1 });
        const froms = await collect(sub, 2, 5000); // "after" and "from-reborn"
        assert(
          froms.some((f) => f.topic === `${tag}/from-reborn`),
          "messages from the restarted shard reach other shards",
        );
        assert(await logged(broker, /[Ss]hard 1.*restart/), "the restart is logged");
      } finally {
        await closeAll([sub, pub, victim, reborn]);
      }
    },
  );
});
