/**
 * The contract suites every authentication backend and every authorization source passes
 * (aedes-persistence's abstract.js style): allow, deny, ignore/nomatch, superuser, each
 * placeholder, injection attempts, a hung server (timeout), a killed server. A backend test
 * file starts its real server once, gives a Backend adapter, and calls these. Owns no server.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  type AuthnChain,
  type Authorizer,
  createAuthenticationChain,
  createAuthorizer,
} from "../../src/auth/mod.ts";
import type { AuthnAnswer, AuthzAction, AuthzClient, ClientInfo } from "../../src/auth/mod.ts";
import type { AuthenticatorConfig, AuthzSourceConfig } from "../../src/config/mod.ts";

/** Client fields a lookup key can come from. */
export type KeyVar = "username" | "clientid" | "peerhost" | "cert_common_name" | "cert_subject";

/** Strings that must never change what a backend does (SQL, Redis, LDAP, Mongo, URL, JSON). */
export const NASTY = [
  "x' OR '1'='1",
  "x'; DROP TABLE mqtt_user; --",
  'x" OR "1"="1',
  "*)(uid=*",
  "*",
  '{"$ne": null}',
  "a b\r\nFLUSHALL",
  "../../admin?x=1&y=2#",
  "${username}",
  "\\",
];

export function client(over: Partial<ClientInfo> & { pw?: string } = {}): ClientInfo {
  const { pw, ...rest } = over;
  return {
    clientId: "client-1",
    username: "user-1",
    peerhost: "127.0.0.1",
    peerport: 4000,
    listener: "tcp:default",
    zone: "default",
    protocolVersion: 5,
    certCommonName: "cn-1",
    certSubject: "CN=cn-1,O=Culex Test",
    ...(pw === undefined ? {} : { password: new TextEncoder().encode(pw) }),
    ...rest,
  };
}

/** sha256(salt + password) hex: EMQX's read-only default {sha256, prefix}. */
export function saltedSha256(password: string, salt: string): string {
  return createHash("sha256").update(salt + password).digest("hex");
}

/** What a backend test gives the authentication contract. */
export interface AuthnBackend {
  /** Authenticator id, e.g. "password_based:redis". */
  readonly id: string;
  /** An authenticator config whose lookup key is the placeholder `key` (timeout `timeoutMs`). */
  config(key: KeyVar, timeoutMs: number): AuthenticatorConfig;
  /** Stores a user found under `key` with `password` (hashed as `config` expects). */
  addUser(key: string, password: string, superuser: boolean): Promise<void>;
  /** Reason code of a wrong password (0x86; HTTP's "deny" is 0x87 as in EMQX). */
  readonly denyCode?: number;
  /** Placeholders this backend can key on (every backend: at least username). */
  readonly keys: readonly KeyVar[];
  /** Checks the backend's data survived (e.g. the table still has `count` users). */
  intact(): Promise<void>;
  /** Makes the server hang / answer again (resolves once it does). */
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
  /** Kills the server for good (the last step of backendContracts). */
  kill(): void;
}

const ALL_KEYS: KeyVar[] = ["username", "clientid", "peerhost", "cert_common_name", "cert_subject"];

/** Registers the authentication contract for `b` as steps of `t`. */
export async function authnContract(t: Deno.TestContext, b: AuthnBackend): Promise<AuthnChain> {
  const chain = createAuthenticationChain([b.config("username", 1500)], { shards: 2 });
  const auth = (c: ClientInfo): Promise<AuthnAnswer> =>
    Promise.resolve(chain.authenticators[0]!.authenticate(c));
  await b.addUser("user-1", "pw-1", false);
  await b.addUser("admin-1", "pw-admin", true);
  {
    await t.step("allow: the right password", async () => {
      assert.deepEqual(await auth(client({ pw: "pw-1" })), { result: "allow", superuser: false });
      assert.deepEqual(await chain.authenticate(client({ pw: "pw-1" })), {
        result: "allow",
        superuser: false,
      });
    });
    await t.step("deny: a wrong password", async () => {
      const r = await auth(client({ pw: "pw-2" }));
      assert.equal(r.result === "deny" && r.reasonCode, b.denyCode ?? 0x86);
    });
    await t.step("ignore: an unknown user (the chain then refuses with 0x87)", async () => {
      assert.equal((await auth(client({ username: "nobody", pw: "x" }))).result, "ignore");
      const r = await chain.authenticate(client({ username: "nobody", pw: "x" }));
      assert.equal(r.result === "deny" && r.reasonCode, 0x87);
    });
    await t.step("superuser", async () => {
      assert.deepEqual(await auth(client({ username: "admin-1", pw: "pw-admin" })), {
        result: "allow",
        superuser: true,
      });
    });
    await t.step("every placeholder is filled from the client", async () => {
      for (const key of ALL_KEYS) {
        if (!b.keys.includes(key)) continue;
        const c = client({
          username: `u-${key}`,
          clientId: `c-${key}`,
          peerhost: "127.0.0.9",
          certCommonName: `cn-${key}`,
          certSubject: `CN=cn-${key},O=Culex`,
          pw: `pw-${key}`,
        });
        const value = {
          username: c.username,
          clientid: c.clientId,
          peerhost: c.peerhost,
          cert_common_name: c.certCommonName,
          cert_subject: c.certSubject,
        }[key] as string;
        await b.addUser(value, `pw-${key}`, false);
        const one = createAuthenticationChain([b.config(key, 1500)]);
        try {
          assert.equal((await one.authenticate(c)).result, "allow", `\${${key}}`);
          assert.equal(
            (await one.authenticate({ ...c, password: new TextEncoder().encode("no") })).result,
            "deny",
            `\${${key}} wrong password`,
          );
        } finally {
          await one.close();
        }
      }
    });
    await t.step("injection attempts in the username are harmless", async () => {
      for (const nasty of NASTY) {
        const r = await auth(client({ username: nasty, pw: "anything" }));
        assert.notEqual(r.result, "allow", JSON.stringify(nasty));
      }
      await b.intact();
      assert.equal(
        (await auth(client({ pw: "pw-1" }))).result,
        "allow",
        "the backend still answers",
      );
    });
    await t.step("a hung server: timeout → ignore, counted, other answers unaffected", async () => {
      try {
        await b.pause();
        const r = await auth(client({ pw: "pw-1" }));
        assert.equal(r.result, "ignore");
        assert.ok(chain.metrics.get(`authn.${b.id}.error`) >= 1);
      } finally {
        await b.resume();
      }
      // The pool recovers once the server answers again (bounded retries).
      let ok = false;
      for (let i = 0; i < 40 && !ok; i++) {
        ok = (await auth(client({ pw: "pw-1" }))).result === "allow";
        if (!ok) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(ok, "answers again after the server resumed");
    });
  }
  return chain;
}

/** A raw rule as the contract states it; the backend stores it in its own format. */
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
const pub = (topic: string, qos: 0 | 1 | 2 = 0, retain = false): AuthzAction => ({
  type: "publish",
  topic,
  qos,
  retain,
});
const sub = (topic: string, qos: 0 | 1 | 2 = 0): AuthzAction => ({
  type: "subscribe",
  topic,
  qos,
  retain: false,
});

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
