/**
 * The authentication contract (part of auth_contract.ts): allow, deny, ignore, superuser, each
 * placeholder, injection attempts and a hung server, against one backend's real server; and the
 * client and password helpers the backend tests and the authorization contract share. Owns no
 * server.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type AuthnChain, createAuthenticationChain } from "../../src/auth/mod.ts";
import type { AuthnAnswer, ClientInfo } from "../../src/auth/mod.ts";
import type { AuthenticatorConfig } from "../../src/config/mod.ts";

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
