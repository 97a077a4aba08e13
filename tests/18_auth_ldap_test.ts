/**
 * password_based:ldap (hash and bind methods) and the ldap authorization source against a real
 * OpenLDAP slapd (configured here with slapadd): the shared contract suites, then the server
 * killed.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { Client } from "ldapts";
import {
  type AuthnBackend,
  type AuthzBackend,
  backendContracts,
  client,
} from "./_helpers/auth_contract.ts";
import { LDAP_ADMIN, LDAP_ADMIN_PW, LDAP_BASE, startSlapd } from "./_helpers/servers/slapd.ts";
import { createAuthenticationChain } from "../src/auth/mod.ts";
import type { LdapAuthnConfig } from "../src/config/mod.ts";

function ssha(password: string): string {
  const salt = randomBytes(4);
  return "{SSHA}" +
    Buffer.concat([createHash("sha1").update(password).update(salt).digest(), salt]).toString(
      "base64",
    );
}

const USERS = `ou=users,${LDAP_BASE}`;

Deno.test({
  name: "ldap (slapd): authentication and authorization contracts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const srv = await startSlapd("");
    const admin = new Client({ url: `ldap://${srv.server}` });
    await admin.bind(LDAP_ADMIN, LDAP_ADMIN_PW);
    let n = 0;
    const conn = {
      server: srv.server,
      username: LDAP_ADMIN,
      password: LDAP_ADMIN_PW,
      enable: true,
      poolSize: 4,
      baseDn: USERS,
    };
    const config = (
      key: string,
      queryTimeout: number,
      method: LdapAuthnConfig["method"],
    ): LdapAuthnConfig => ({
      ...conn,
      queryTimeout,
      mechanism: "password_based",
      backend: "ldap",
      filter: `(&(objectClass=mqttUser)(uid=\${${key}}))`,
      method,
    });
    const hash = {
      type: "hash",
      passwordAttribute: "userPassword",
      isSuperuserAttribute: "isSuperuser",
    } as const;
    const authn: AuthnBackend = {
      id: "password_based:ldap",
      keys: ["username", "clientid", "peerhost", "cert_common_name", "cert_subject"],
      config: (key, timeout) => config(key, timeout, hash),
      async addUser(key, password, superuser) {
        await admin.add(`cn=user${++n},${USERS}`, {
          objectClass: ["inetOrgPerson", "mqttUser"],
          cn: `user${n}`,
          sn: "test",
          uid: key,
          userPassword: ssha(password),
          isSuperuser: superuser ? "TRUE" : "FALSE",
        });
      },
      async intact() {
        const { searchEntries } = await admin.search(USERS, {
          scope: "sub",
          filter: "(objectClass=mqttUser)",
        });
        assert.ok(searchEntries.length >= 2);
      },
      pause: () => srv.process.pause(),
      resume: () => srv.process.resume(),
      kill: () => srv.process.kill(),
    };
    const attr = {
      publish: "mqttPublishTopic",
      subscribe: "mqttSubscriptionTopic",
      all: "mqttPubSubTopic",
    } as const;
    const authz: AuthzBackend = {
      type: "ldap",
      canDeny: false,
      conditions: false,
      config: (queryTimeout) => ({
        ...conn,
        queryTimeout,
        type: "ldap",
        filter: "(&(objectClass=mqttUser)(uid=${username}))",
        publishAttribute: attr.publish,
        subscribeAttribute: attr.subscribe,
        allAttribute: attr.all,
      }),
      async setRules(user, rules) {
        const dn = `cn=acl-${user},${USERS}`;
        await admin.del(dn).catch(() => {});
        const entry: Record<string, string[] | string> = {
          objectClass: ["inetOrgPerson", "mqttUser"],
          cn: `acl-${user}`,
          sn: "acl",
          uid: user,
        };
        for (const r of rules) entry[attr[r.action]] = [...(entry[attr[r.action]] ?? []), r.topic];
        await admin.add(dn, entry);
      },
      pause: () => srv.process.pause(),
      resume: () => srv.process.resume(),
    };
    try {
      await t.step("bind method: the user's own bind decides", async () => {
        await authn.addUser("binder", "bind-pw", true);
        const chain = createAuthenticationChain([
          config("username", 2000, { type: "bind", bindPassword: "${password}" }),
        ]);
        try {
          assert.deepEqual(
            await chain.authenticate(client({ username: "binder", pw: "bind-pw" })),
            { result: "allow", superuser: true },
          );
          const bad = await chain.authenticate(client({ username: "binder", pw: "nope" }));
          assert.equal(bad.result === "deny" && bad.reasonCode, 0x86);
          assert.equal(
            (await chain.authenticate(client({ username: "binder", pw: "" }))).result,
            "deny",
            "an empty password never binds",
          );
        } finally {
          await chain.close();
        }
      });
      await backendContracts(t, authn, authz);
    } finally {
      await admin.unbind().catch(() => {});
      await srv.stop();
    }
  },
});
