/**
 * password_based:mongodb and the mongodb authorization source with the official `mongodb`
 * driver against CongoDB, a MongoDB-wire-compatible server from npm (no MongoDB server runs
 * here; see tests/_helpers/servers/mongodb.ts and the README's limits), plus the filter
 * building on its own.
 */

import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import {
  type AuthnBackend,
  type AuthzBackend,
  backendContracts,
  saltedSha256,
} from "./_helpers/auth_contract.ts";
import { startMongo } from "./_helpers/servers/mongodb.ts";
import { buildMongoFilter } from "../src/auth/authn/backends.ts";

Deno.test("buildMongoFilter() puts client text in values, never operators", () => {
  const f = buildMongoFilter({
    username: "${username}",
    tenant: { $in: ["a", "${clientid}"] },
    active: true,
  }, {
    username: '{"$ne": null}',
    clientid: "$where",
  });
  assert.deepEqual(f, {
    username: '{"$ne": null}',
    tenant: { $in: ["a", "${clientid}"] },
    active: true,
  });
  assert.equal(typeof f.username, "string");
});

Deno.test({
  name: "mongodb (CongoDB wire server): authentication and authorization contracts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const srv = await startMongo();
    const client = new MongoClient(`mongodb://${srv.server}/`, {
      directConnection: true,
      serverSelectionTimeoutMS: 5000,
    });
    await client.connect();
    const db = client.db("mqtt");
    const conn = {
      server: srv.server,
      database: "mqtt",
      username: "",
      password: "",
      mongoType: "single" as const,
      enable: true,
      poolSize: 4,
    };
    const authn: AuthnBackend = {
      id: "password_based:mongodb",
      keys: ["username", "clientid", "peerhost", "cert_common_name", "cert_subject"],
      config: (key, queryTimeout) => ({
        ...conn,
        queryTimeout,
        mechanism: "password_based",
        backend: "mongodb",
        collection: "mqtt_user",
        filter: { username: `\${${key}}` },
        passwordHashField: "password_hash",
        saltField: "salt",
        isSuperuserField: "is_superuser",
        passwordHashAlgorithm: { name: "sha256", saltPosition: "prefix" },
      }),
      async addUser(key, password, superuser) {
        await db.collection("mqtt_user").insertOne({
          username: key,
          password_hash: saltedSha256(password, "s4lt"),
          salt: "s4lt",
          is_superuser: superuser,
        });
      },
      async intact() {
        assert.ok((await db.collection("mqtt_user").countDocuments({})) >= 2);
      },
      pause: () => srv.process.pause(),
      resume: () => srv.process.resume(),
      kill: () => srv.process.kill(),
    };
    const authz: AuthzBackend = {
      type: "mongodb",
      canDeny: true,
      conditions: true,
      config: (queryTimeout) => ({
        ...conn,
        queryTimeout,
        type: "mongodb",
        collection: "mqtt_acl",
        filter: { username: "${username}" },
        limit: 1000,
        skip: 0,
      }),
      async setRules(user, rules) {
        await db.collection("mqtt_acl").deleteMany({ username: user });
        for (const r of rules) {
          await db.collection("mqtt_acl").insertOne({
            username: user,
            permission: r.permission,
            action: r.action,
            topics: [r.topic],
            ...(r.qos ? { qos: r.qos } : {}),
            ...(r.retain === undefined ? {} : { retain: r.retain }),
          });
        }
      },
      pause: () => srv.process.pause(),
      resume: () => srv.process.resume(),
    };
    try {
      await backendContracts(t, authn, authz);
    } finally {
      await client.close(true).catch(() => {});
      await srv.stop();
    }
  },
});
