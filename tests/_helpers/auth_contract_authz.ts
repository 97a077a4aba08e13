/**
 * The authorization contract (part of auth_contract.ts): allow with placeholders and wildcards,
 * nomatch, superusers, injection attempts, the cache and a hung server; and backendContracts(),
 * which runs both contracts against one server and then kills it. Owns no server.
 */

import assert from "node:assert/strict";
import { type Authorizer, createAuthorizer } from "../../src/auth/mod.ts";
import type { AuthzAction, AuthzClient } from "../../src/auth/mod.ts";
import type { AuthzSourceConfig } from "../../src/config/mod.ts";
import { type AuthnBackend, authnContract, client, NASTY } from "./auth_contract_authn.ts";

export interface ContractRule {
  readonly permission: "allow" | "deny";
  readonly action: "publish" | "subscribe" | "all";
  readonly topic: string;
  readonly qos?: readonly number[];
  readonly retain?: boolean;
}

/** What a backend test gives the authorization contract. */
export interface AuthzBackend {
  readonly type: string;
  /** A source config keyed on ${username} (timeout `timeoutMs`). */
  config(timeoutMs: number): AuthzSourceConfig;
  /** Stores `rules` for username `user` (replacing earlier ones). */
  setRules(user: string, rules: readonly ContractRule[]): Promise<void>;
  /** Whether the backend can say deny (redis and ldap rows are allow-only in EMQX). */
  readonly canDeny: boolean;
  /** Whether rows carry qos/retain conditions. */
  readonly conditions: boolean;
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
}

function zc(username: string, over: Partial<AuthzClient> = {}): AuthzClient {
  return { ...client({ username }), superuser: false, ...over };
}
/** A PUBLISH action on `topic` (shared with src/auth/authz_test.ts). */
export function pub(topic: string, qos: 0 | 1 | 2 = 0, retain = false): AuthzAction {
  return { type: "publish", topic, qos, retain };
}
/** A SUBSCRIBE action on `topic` (shared with src/auth/authz_test.ts). */
export function sub(topic: string, qos: 0 | 1 | 2 = 0): AuthzAction {
  return { type: "subscribe", topic, qos, retain: false };
}

/** Registers the authorization contract for `b` as steps of `t`. */
export async function authzContract(t: Deno.TestContext, b: AuthzBackend): Promise<Authorizer> {
  const authz = createAuthorizer({
    noMatch: "deny",
    denyAction: "ignore",
    cache: { enable: false, maxSize: 32, ttl: 60_000, excludes: [] },
    sources: [b.config(1500)],
  }, { shards: 2 });
  const cached = createAuthorizer({
    noMatch: "deny",
    denyAction: "ignore",
    cache: { enable: true, maxSize: 32, ttl: 60_000, excludes: [] },
    sources: [b.config(1500)],
  });
  {
    await b.setRules("alice", [
      { permission: "allow", action: "publish", topic: "a/${username}/#" },
      { permission: "allow", action: "subscribe", topic: "s/+/x" },
      { permission: "allow", action: "all", topic: "c/${clientid}" },
      ...(b.conditions
        ? [
          {
            permission: "allow",
            action: "publish",
            topic: "q/1",
            qos: [1],
            retain: false,
          } as const,
        ]
        : []),
      ...(b.canDeny ? [{ permission: "deny", action: "publish", topic: "d/1" } as const] : []),
    ]);
    await t.step("allow, with topic placeholders and wildcards", async () => {
      assert.equal(await authz.authorize(zc("alice"), pub("a/alice/1/2")), "allow");
      assert.equal(
        await authz.authorize(zc("alice"), pub("a/bob/1")),
        "deny",
        "${username} is per client",
      );
      assert.equal(await authz.authorize(zc("alice"), sub("s/1/x")), "allow");
      assert.equal(
        await authz.authorize(zc("alice"), sub("s/+/x")),
        "allow",
        "a requested filter covered by the rule",
      );
      assert.equal(
        await authz.authorize(zc("alice"), sub("s/#")),
        "deny",
        "a wider filter is not covered",
      );
      assert.equal(await authz.authorize(zc("alice", { clientId: "c9" }), sub("c/c9")), "allow");
      assert.equal(await authz.authorize(zc("alice"), pub("s/1/x")), "deny", "action");
    });
    if (b.conditions) {
      await t.step("qos and retain conditions", async () => {
        assert.equal(await authz.authorize(zc("alice"), pub("q/1", 1)), "allow");
        assert.equal(await authz.authorize(zc("alice"), pub("q/1", 2)), "deny");
        assert.equal(await authz.authorize(zc("alice"), pub("q/1", 1, true)), "deny");
      });
    }
    if (b.canDeny) {
      await t.step("deny rows decide", async () => {
        const withAllow = createAuthorizer({
          noMatch: "allow",
          denyAction: "ignore",
          cache: { enable: false, maxSize: 1, ttl: 1, excludes: [] },
          sources: [b.config(1500)],
        });
        try {
          assert.equal(await withAllow.authorize(zc("alice"), pub("d/1")), "deny");
          assert.equal(await withAllow.authorize(zc("alice"), pub("elsewhere")), "allow");
        } finally {
          await withAllow.close();
        }
      });
    }
    await t.step("nomatch: a user without rules falls to no_match", async () => {
      assert.equal(await authz.authorize(zc("nobody"), pub("a/nobody/1")), "deny");
      assert.ok(authz.metrics.get(`authz.${b.type}.nomatch`) >= 1);
    });
    await t.step("superusers skip the source", () => {
      assert.equal(authz.authorize(zc("nobody", { superuser: true }), pub("anything")), "allow");
    });
    await t.step("injection attempts in the username are harmless", async () => {
      for (const nasty of NASTY) {
        assert.equal(
          await authz.authorize(zc(nasty), pub(`a/${nasty}/1`)),
          "deny",
          JSON.stringify(nasty),
        );
      }
      assert.equal(
        await authz.authorize(zc("alice"), pub("a/alice/1")),
        "allow",
        "the backend still answers",
      );
    });
    await t.step("a cached decision needs no backend round trip", async () => {
      assert.equal(await cached.authorize(zc("alice"), pub("a/alice/1")), "allow");
      try {
        await b.pause();
        assert.equal(
          cached.authorize(zc("alice"), pub("a/alice/1")),
          "allow",
          "synchronous, from the cache",
        );
      } finally {
        await b.resume();
      }
    });
    await t.step("a hung server: nomatch, counted", async () => {
      try {
        await b.pause();
        assert.equal(await authz.authorize(zc("alice"), pub("a/alice/2")), "deny");
        assert.ok(authz.metrics.get(`authz.${b.type}.error`) >= 1);
      } finally {
        await b.resume();
      }
    });
  }
  await cached.close();
  return authz;
}

/**
 * Runs both contracts against one server, then kills it: both the chain and the authorizer
 * must answer ignore / nomatch, count the failures, and never throw.
 */
export async function backendContracts(
  t: Deno.TestContext,
  authnB: AuthnBackend,
  authzB: AuthzBackend,
): Promise<void> {
  const chain = await authnContract(t, authnB);
  const authz = await authzContract(t, authzB);
  try {
    await t.step(
      "a killed server: authentication ignores, authorization says nomatch, both count",
      async () => {
        const e1 = chain.metrics.get(`authn.${authnB.id}.error`);
        const e2 = authz.metrics.get(`authz.${authzB.type}.error`);
        authnB.kill();
        const answers = await Promise.all(
          [1, 2, 3].map(() => chain.authenticate(client({ pw: "pw-1" }))),
        );
        for (const r of answers) {
          assert.ok(r.result === "deny" && r.reasonCode === 0x87, "all ignore → not authorized");
        }
        assert.ok(chain.metrics.get(`authn.${authnB.id}.error`) >= e1 + 3);
        const decisions = await Promise.all(
          [1, 2].map(() => authz.authorize(zc("alice"), pub("a/alice/3"))),
        );
        assert.deepEqual(decisions, ["deny", "deny"]);
        assert.ok(authz.metrics.get(`authz.${authzB.type}.error`) >= e2 + 2);
      },
    );
  } finally {
    await chain.close();
    await authz.close();
  }
}
