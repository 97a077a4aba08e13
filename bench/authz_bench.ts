/**
 * Micro-benchmark of Authorizer.authorize() over an ACL of 1,000 file rules, with the cache on
 * and off, for publishes and subscribes. Prints ns per decision and what that costs against the
 * fan-in QoS 1 budget (issue 12: at most 10% of throughput with the cache on). Owns nothing
 * but its own Authorizers; no sockets.
 *
 *   deno run -A bench/authz_bench.ts [--rules 1000] [--clients 200] [--seconds 2]
 */

import { parseArgs } from "node:util";
import { createAuthorizer } from "../src/auth/mod.ts";
import type { AuthzAction, AuthzClient } from "../src/auth/mod.ts";
import { sampleAcl } from "./_acl_rules.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rules: { type: "string", default: "1000" },
    clients: { type: "string", default: "200" },
    seconds: { type: "string", default: "2" },
    "fanin-qos1": { type: "string", default: "135000" },
  },
});
const RULES = Number(values.rules);
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const FANIN_QOS1 = Number(values["fanin-qos1"]);

const clients: AuthzClient[] = Array.from({ length: CLIENTS }, (_, i) => ({
  clientId: `fleet-client-${i}`,
  username: `fleet-${i}`,
  peerhost: "127.0.0.2",
  peerport: 10_000 + i,
  listener: "tcp:default",
  zone: "default",
  protocolVersion: 5,
  superuser: false,
}));
// The matching rule sits after ~1,000 others: the worst case for a linear file source.
const publishes: AuthzAction[] = clients.map((c) => ({
  type: "publish",
  topic: `fleet/${c.username}/temp`,
  qos: 1,
  retain: false,
}));
const subscribes: AuthzAction[] = clients.map((c) => ({
  type: "subscribe",
  topic: `fleet/${c.username}/+`,
  qos: 1,
  retain: false,
}));

function run(label: string, cache: boolean, actions: AuthzAction[]): number {
  const authz = createAuthorizer({
    noMatch: "deny",
    denyAction: "ignore",
    cache: { enable: cache, maxSize: 32, ttl: 60_000, excludes: [] },
    sources: [{ type: "file", enable: true, path: "", rules: sampleAcl(RULES) }],
  });
  let ops = 0;
  let allowed = 0;
  // Warm-up (JIT, and fills the cache when on).
  for (let i = 0; i < 20_000; i++) {
    if (authz.authorize(clients[i % CLIENTS]!, actions[i % CLIENTS]!) === "allow") allowed++;
  }
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) {
      if (authz.authorize(clients[i % CLIENTS]!, actions[i % CLIENTS]!) === "allow") allowed++;
    }
    ops += 10_000;
  }
  const ns = ((performance.now() - t0) * 1e6) / ops;
  if (allowed === 0) throw new Error("the benchmark ACL allowed nothing");
  const share = (ns * FANIN_QOS1) / 1e9 * 100;
  console.log(
    `${label.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/decision  ${
      (1e9 / ns / 1e6).toFixed(2).padStart(6)
    } M/s  ` +
      `= ${share.toFixed(2)}% of a ${FANIN_QOS1.toLocaleString("en")} msg/s fan-in QoS 1 budget`,
  );
  return ns;
}

console.log(
  `authorize() over ${RULES} file rules, ${CLIENTS} clients, ${SECONDS} s per case (${Deno.build.os}, Deno ${Deno.version.deno})`,
);
run("publish, cache off (all rules)", false, publishes);
run("publish, cache on (hit)", true, publishes);
run("subscribe, cache off (all rules)", false, subscribes);
run("subscribe, cache on (hit)", true, subscribes);
