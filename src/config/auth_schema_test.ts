/**
 * Unit tests of the security keys of the config: authenticators of every backend, authorization
 * sources, rates, zones (zoneConfig) and the key/line of their errors.
 */

import assert from "node:assert/strict";
import { ConfigError, loadConfig, zoneConfig } from "./mod.ts";
import { withFile } from "./_test_util.ts";

function error(text: string): ConfigError {
  try {
    withFile(text, (file) => loadConfig({ file }));
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

const EVERY_BACKEND = `
authentication:
  - mechanism: password_based
    backend: built_in_database
    password_hash_algorithm: {name: bcrypt, salt_rounds: 6}
  - mechanism: password_based
    backend: redis
    server: "127.0.0.1:6380"
    cmd: "HMGET mqtt_user:\${username} password_hash salt is_superuser"
  - mechanism: password_based
    backend: postgresql
    database: mqtt
    password_hash_algorithm: {name: pbkdf2, mac_fun: sha256, iterations: 1000}
  - mechanism: password_based
    backend: mysql
    query: "SELECT password_hash, salt FROM mqtt_user WHERE username = \${username} LIMIT 1"
    password_hash_algorithm: {name: sha256, salt_position: suffix}
  - mechanism: password_based
    backend: mongodb
    filter: {username: "\${username}"}
  - mechanism: password_based
    backend: ldap
    base_dn: "ou=users,dc=example,dc=com"
    filter: "(&(objectClass=mqttUser)(uid=\${username}))"
    method: {type: bind, bind_password: "\${password}"}
  - mechanism: password_based
    backend: http
    url: "http://127.0.0.1:8080/auth"
    body: {username: "\${username}", password: "\${password}"}
  - mechanism: jwt
    secret: s3cret
    verify_claims: {sub: "\${clientid}"}
  - mechanism: scram
    algorithm: sha512
authorization:
  no_match: deny
  sources:
    - {type: file, path: ""}
    - {type: built_in_database}
    - {type: redis}
    - {type: postgresql}
    - {type: mysql}
    - {type: mongodb}
    - {type: ldap, base_dn: "ou=acl,dc=example,dc=com"}
    - {type: http, url: "http://127.0.0.1:8080/acl?t=\${topic}"}
`;

Deno.test("loadConfig() reads an authenticator and a source of every kind with EMQX defaults", () => {
  const c = withFile(EVERY_BACKEND, (file) => loadConfig({ file }));
  assert.deepEqual(
    c.authentication.map((a) => ("backend" in a ? `${a.mechanism}:${a.backend}` : a.mechanism)),
    [
      "password_based:built_in_database",
      "password_based:redis",
      "password_based:postgresql",
      "password_based:mysql",
      "password_based:mongodb",
      "password_based:ldap",
      "password_based:http",
      "jwt",
      "scram:built_in_database",
    ],
  );
  const [builtin, redis, pg] = c.authentication;
  assert.deepEqual(builtin && "passwordHashAlgorithm" in builtin && builtin.passwordHashAlgorithm, {
    name: "bcrypt",
    saltRounds: 6,
  });
  assert.ok(
    redis && "queryTimeout" in redis && redis.poolSize === 8 && redis.queryTimeout === 5000,
  );
  assert.deepEqual(pg && "passwordHashAlgorithm" in pg && pg.passwordHashAlgorithm, {
    name: "pbkdf2",
    macFun: "sha256",
    iterations: 1000,
  });
  const ldap = c.authentication[5];
  assert.deepEqual(ldap && "method" in ldap && ldap.method, {
    type: "bind",
    bindPassword: "${password}",
  });
  assert.equal(c.authorization.noMatch, "deny");
  assert.equal(c.authorization.sources.length, 8);
  const acl = c.authorization.sources[6];
  assert.equal(acl?.type === "ldap" && acl.publishAttribute, "mqttPublishTopic");
  assert.deepEqual(c.authorization.cache, { enable: true, maxSize: 32, ttl: 60_000, excludes: [] });
});

Deno.test("loadConfig() names key and line of bad security keys", () => {
  const e1 = error(
    `authentication:\n  - mechanism: password_based\n    backend: redis\n    cmd: "HGET u:\${user} h"\n`,
  );
  assert.equal(e1.key, "authentication.0.cmd");
  assert.equal(e1.line, 4);
  assert.match(e1.message, /unknown: \$\{user\}/);
  const e2 = error(
    `authentication:\n  - mechanism: password_based\n    backend: built_in_database\n    password_hash_algorithm: {name: md4}\n`,
  );
  assert.equal(e2.key, "authentication.0.password_hash_algorithm");
  const e3 = error(`authorization:\n  deny_action: kick\n`);
  assert.equal(e3.key, "authorization.deny_action");
  assert.equal(e3.line, 2);
  const e4 = error(
    `listeners:\n  tcp:\n    default:\n      bind: 1883\n      messages_rate: fast\n`,
  );
  assert.equal(e4.key, "listeners.tcp.default.messages_rate");
  assert.match(e4.message, /a rate such as "1000\/s"/);
  const e5 = error(`authentication:\n  - mechanism: jwt\n`);
  assert.match(e5.message, /secret \(hmac-based\)/);
  const e6 = error(`zones:\n  edge:\n    mqtt:\n      max_inflight: 0\n`);
  assert.equal(e6.key, "zones.edge.mqtt.max_inflight");
  assert.equal(e6.line, 4);
  const e7 = error(`authentication:\n  - mechanism: password_based\n    backend: http\n`);
  assert.equal(e7.key, "authentication.0.url");
});

Deno.test("rates and flapping_detect parse; a single authenticator mapping is a list of one", () => {
  const c = loadConfig({
    sets: [
      "listeners.tcp.default.messages_rate=500/10s",
      "listeners.tcp.default.bytes_rate=1MB/s",
      "flapping_detect.enable=true",
      "flapping_detect.window_time=2m",
    ],
  });
  assert.deepEqual(c.listeners.tcp.default?.messagesRate, { tokens: 500, periodMs: 10_000 });
  assert.deepEqual(c.listeners.tcp.default?.bytesRate, { tokens: 1 << 20, periodMs: 1000 });
  assert.deepEqual(c.flappingDetect, {
    enable: true,
    windowTime: 120_000,
    maxCount: 15,
    banTime: 300_000,
  });
  const one = withFile(
    `authentication:\n  mechanism: jwt\n  secret: x\n`,
    (file) => loadConfig({ file }),
  );
  assert.equal(one.authentication.length, 1);
});

Deno.test("zoneConfig() merges a zone over the global mqtt, flapping_detect and force_gc", () => {
  const c = withFile(
    `mqtt:\n  max_inflight: 16\nzones:\n  internal:\n    mqtt:\n      max_inflight: 128\n      idle_timeout: 60s\n    flapping_detect:\n      enable: true\n    force_gc:\n      interval: 30s\n`,
    (file) => loadConfig({ file }),
  );
  const z = zoneConfig(c, "internal");
  assert.equal(z.mqtt.maxInflight, 128);
  assert.equal(z.mqtt.idleTimeout, 60_000);
  assert.equal(z.mqtt.maxMqueueLen, 1000, "unset keys keep the global value");
  assert.equal(z.flappingDetect.enable, true);
  assert.equal(z.flappingDetect.maxCount, 15);
  assert.equal(z.forceGc.interval, 30_000);
  assert.equal(zoneConfig(c, "default").mqtt.maxInflight, 16);
  assert.equal(zoneConfig(c, "nope").mqtt.maxInflight, 16);
  assert.ok(Object.isFrozen(z.mqtt));
  assert.equal(zoneConfig(c, "internal"), z, "resolved once");
});
