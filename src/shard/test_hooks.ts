/**
 * Test-only behaviour, added to a shard's hooks only when the broker runs with CULEX_TEST_HOOKS=1
 * (shard_services.ts); no production handler reads any of it. Faults on `message.publish`:
 * `$culex/fault/crash-shard` makes the shard throw outside every handler, as a bug would;
 * `$culex/fault/stall-shard` (payload: milliseconds, at most 5000) blocks the shard's loop that
 * long, as a slow shard would. A `client.authenticate` callback that answers later: user name
 * `culex-test-slow` with password `allow:<ms>` or `deny:<ms>`. A `client.authorize` callback that
 * answers later: topics `culex-test/slow-authz/allow/...` and `.../deny/...` after 200 ms. And the
 * challenge-response enhanced authentication method of src/auth/test_method.ts. And a log line
 * per `message.dropped` ("Test hook: message.dropped <topic> <reason>"), which tests read.
 *
 * @module
 */

import { reverseChallengeMethod } from "../auth/mod.ts";
import { type Message, ReasonCode } from "../mqtt/mod.ts";
import type { AuthnDecision, AuthzDecision, ClientFacts, Credentials, FoldStep } from "./hooks.ts";
import type { Logger } from "@logtape/logtape";
import type { EnhancedAuthRegistry } from "../auth/mod.ts";
import type { Hooks } from "./hooks.ts";

/** What the test hooks attach to. */
export interface TestHookTarget {
  readonly index: number;
  readonly hooks: Hooks;
  readonly log: Logger;
  readonly authMethods: EnhancedAuthRegistry;
}

/** The user name the slow test authenticator answers for. */
export const SLOW_AUTH_USER = "culex-test-slow";
const SLOW_AUTHZ = "culex-test/slow-authz/";
const SLOW_AUTHZ_MS = 200;
const MAX_STALL_MS = 5000;

const after = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

/** Adds the test hooks of the file header to a shard. */
export function addTestHooks(svc: TestHookTarget): void {
  const { hooks, log } = svc;
  svc.authMethods.register(reverseChallengeMethod);
  hooks.add("message.dropped", function testDropped(m: Message, reason: string) {
    log.info("Test hook: message.dropped {topic} {reason}", { topic: m.topic, reason });
  }, { name: "testDropped" });
  hooks.add("message.publish", function testFaults(m: Message) {
    if (!m.topic.startsWith("$culex/fault/")) return;
    if (m.topic === "$culex/fault/crash-shard") {
      log.warn("Fault injection: shard {index} crashes now", { index: svc.index });
      setTimeout(() => {
        throw new Error(`Injected fault in shard ${svc.index}`);
      }, 0);
    } else if (m.topic === "$culex/fault/stall-shard") {
      const ms = Math.min(Number(new TextDecoder().decode(m.payload)) || 0, MAX_STALL_MS);
      log.warn("Fault injection: shard {index} stalls for {ms} ms", { index: svc.index, ms });
      const until = performance.now() + ms;
      while (performance.now() < until) { /* a slow shard: the loop is blocked on purpose */ }
    }
    return { reasonCode: ReasonCode.Success, reason: "fault injected" };
  }, { priority: 2000, name: "testFaults" });
  hooks.add(
    "client.authenticate",
    function testSlowAuthn(
      c: ClientFacts,
      cred: Credentials,
    ): FoldStep<AuthnDecision> | Promise<FoldStep<AuthnDecision>> {
      if (c.username !== SLOW_AUTH_USER) return undefined;
      const [verdict = "", ms = "0"] = new TextDecoder().decode(cred.password).split(":");
      const value: AuthnDecision = verdict === "allow"
        ? { result: "allow", superuser: false }
        : { result: "deny", reasonCode: ReasonCode.BadUserNameOrPassword, reason: "test deny" };
      return after(Math.min(Number(ms) || 0, MAX_STALL_MS), { stop: true, value });
    },
    { priority: 2000, name: "testSlowAuthn" }, // before the configured chain
  );
  hooks.add(
    "client.authorize",
    function testSlowAuthz(_c, action): FoldStep<AuthzDecision> | Promise<FoldStep<AuthzDecision>> {
      if (!action.topic.startsWith(SLOW_AUTHZ)) return undefined;
      const deny = action.topic.startsWith(`${SLOW_AUTHZ}deny/`);
      const value: AuthzDecision = deny ? "deny" : "allow";
      return after(SLOW_AUTHZ_MS, { stop: true, value });
    },
    { priority: 2000, name: "testSlowAuthz" }, // before the configured sources
  );
}
