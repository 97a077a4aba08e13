/**
 * password_based:redis and the redis authorization source against a real redis-server (started
 * here on a free port): the shared contract suites, then the server killed mid-run.
 */

import { Redis } from "ioredis";
import assert from "node:assert/strict";
import {
  type AuthnBackend,
  type AuthzBackend,
  backendContracts,
  saltedSha256,
} from "./_helpers/auth_contract.ts";
import { startRedis } from "./_helpers/servers/redis.ts";

Deno.test({
  name: "redis: authentication and authorization contracts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const srv = await startRedis();
    const admin = new Redis({
      host: srv.host,
      port: srv.port,
      password: srv.password,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    admin.on("error", () => {});
    await admin.connect();
    const conn = {
      server: srv.server,
      database: 0,
      username: "",
      password: srv.password,
      redisType: "single" as const,
      enable: true,
      poolSize: 4,
    };
    const authn: AuthnBackend = {
      id: "password_based:redis",
      keys: ["username", "clientid", "peerhost", "cert_common_name", "cert_subject"],
      config: (key, queryTimeout) => ({
        ...conn,
        queryTimeout,
        mechanism: "password_based",
        backend: "redis",
        cmd: `HMGET mqtt_user:\${${key}} password_hash salt is_superuser`,
        passwordHashAlgorithm: { name: "sha256", saltPosition: "prefix" },
      }),
      async addUser(key, password, superuser) {
        await admin.hset(`mqtt_user:${key}`, {
          password_hash: saltedSha256(password, "s4lt"),
          salt: "s4lt",
          is_superuser: superuser ? "1" : "0",
        });
      },
      async intact() {
        assert.ok((await admin.dbsize()) >= 2);
      },
      pause: () => srv.process.pause(),
      resume: () => srv.process.resume(),
      kill: () => srv.process.kill(),
    };
    const authz: AuthzBackend = {
      type: "redis",
      canDeny: false,
      conditions: true,
      config: (queryTimeout) => ({
        ...conn,
        queryTimeout,
        type: "redis",
        cmd: "HGETALL mqtt_acl:${username}",
      }),
      async setRules(user, rules) {
        await admin.del(`mqtt_acl:${user}`);
        for (const r of rules) {
          const value = r.qos || r.retain !== undefined
            ? JSON.stringify({ action: r.action, qos: r.qos, retain: r.retain })
            : r.action;
          await admin.hset(`mqtt_acl:${user}`, r.topic, value);
        }
      },
      pause: () => srv.process.pause(),
      resume: () => srv.process.resume(),
    };
    try {
      await backendContracts(t, authn, authz);
    } finally {
      admin.disconnect();
      await srv.stop();
    }
  },
});
