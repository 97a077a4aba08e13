/**
 * Unit tests of the in-memory authenticators and the chain: password hashing against known
 * vectors (computed with Python's hashlib and the OpenBSD bcrypt suite), the built-in database
 * with EMQX's bootstrap CSV, simple rules, JWT (tokens signed with jose) and SCRAM (RFC 7677's
 * worked example). Backends with servers are tested in tests/.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { checkPassword } from "./_hash.ts";
import { ldapPasswordMatches } from "./authn/ldap_hash.ts";
import { ScramMethod } from "./authn/scram.ts";
import { createAuthenticationChain } from "./authn_chain.ts";
import { MemoryUserStore } from "./user_store.ts";
import type { AuthnResult, ClientInfo } from "./types.ts";
import type { AuthenticatorConfig, JwtAuthnConfig } from "../config/types_auth.ts";
import { client } from "../../tests/_helpers/auth_contract_authn.ts";

const enc = new TextEncoder();
/** The contract's client (tests/_helpers), as c1/u1: the CSV users and JWT subjects below. */
function info(over: Partial<ClientInfo> & { pw?: string } = {}): ClientInfo {
  return client({ clientId: "c1", username: "u1", ...over });
}

Deno.test("checkPassword() matches known digests, salts, pbkdf2 and bcrypt", async () => {
  const none = "disable" as const;
  assert.equal(
    checkPassword(
      { name: "md5", saltPosition: none },
      "password",
      "5f4dcc3b5aa765d61d8327deb882cf99",
      "",
    ),
    true,
  );
  assert.equal(
    checkPassword(
      { name: "sha", saltPosition: none },
      "password",
      "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
      "",
    ),
    true,
  );
  assert.equal(
    checkPassword(
      { name: "sha512", saltPosition: none },
      "password",
      "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb980b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86",
      "",
    ),
    true,
  );
  const prefix = "13601bda4ea78e55a07b98866d2be6be0744e3866f13c00c811cab608a28f322";
  const suffix = "7a37b85c8918eac19a9089c0fa5a2ab4dce3f90528dcdeec108b23ddf3607b99";
  assert.equal(
    checkPassword({ name: "sha256", saltPosition: "prefix" }, "password", prefix, "salt"),
    true,
  );
  assert.equal(
    checkPassword({ name: "sha256", saltPosition: "suffix" }, "password", suffix, "salt"),
    true,
  );
  assert.equal(
    checkPassword({ name: "sha256", saltPosition: "suffix" }, "passwore", suffix, "salt"),
    false,
  );
  assert.equal(checkPassword({ name: "plain", saltPosition: "disable" }, "pw", "pw", ""), true);
  assert.equal(checkPassword({ name: "plain", saltPosition: "disable" }, "pw", "pw2", ""), false);
  const pbkdf2 = { name: "pbkdf2", macFun: "sha256", iterations: 1000 } as const;
  assert.equal(
    await checkPassword(
      pbkdf2,
      "password",
      "632c2812e46d4604102ba7618e9d6d7d2f8128f6266b4a03264d2a0460b7dcb3",
      "salt",
    ),
    true,
  );
  assert.equal(
    await checkPassword(
      pbkdf2,
      "passwore",
      "632c2812e46d4604102ba7618e9d6d7d2f8128f6266b4a03264d2a0460b7dcb3",
      "salt",
    ),
    false,
  );
  const bcrypt = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
  assert.equal(await checkPassword({ name: "bcrypt", saltRounds: 5 }, "U*U", bcrypt, ""), true);
  assert.equal(await checkPassword({ name: "bcrypt", saltRounds: 5 }, "U*V", bcrypt, ""), false);
  assert.equal(
    await checkPassword({ name: "bcrypt", saltRounds: 5 }, "U*U", "not a hash", ""),
    false,
  );
});

Deno.test("ldapPasswordMatches() reads slapd's {SHA}, {SSHA} and clear text", () => {
  assert.equal(ldapPasswordMatches("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password"), true);
  assert.equal(ldapPasswordMatches("{SSHA}2D7DXcHaxkWxjlTTFhTzbi4Z/sdhYmNk", "password"), true);
  assert.equal(ldapPasswordMatches("{SSHA}2D7DXcHaxkWxjlTTFhTzbi4Z/sdhYmNk", "passwore"), false);
  assert.equal(ldapPasswordMatches("password", "password"), true);
  assert.equal(ldapPasswordMatches("{CRYPT}xx", "password"), false);
});

Deno.test("an empty chain lets everyone in anonymously; all ignore is 0x87", () => {
  const empty = createAuthenticationChain([]);
  assert.deepEqual(empty.authenticate(info()), {
    result: "allow",
    superuser: false,
    anonymous: true,
  });
  assert.equal(empty.metrics.get("authentication.success.anonymous"), 1);
  const disabled = createAuthenticationChain([{ mechanism: "simple", enable: false, rules: [] }]);
  assert.equal((disabled.authenticate(info()) as AuthnResult).result, "allow");
  const ignoring = createAuthenticationChain([{ mechanism: "simple", enable: true, rules: [] }]);
  const r = ignoring.authenticate(info()) as AuthnResult;
  assert.equal(r.result === "deny" && r.reasonCode, 0x87);
  assert.equal(ignoring.metrics.get("authentication.failure"), 1);
});

Deno.test("simple rules: by client id, username and CIDR; first match decides", () => {
  const chain = createAuthenticationChain([{
    mechanism: "simple",
    enable: true,
    rules: [
      { permission: "deny", clientid: "bad", isSuperuser: false },
      { permission: "allow", username: "admin", peerhost: "127.0.0.0/8", isSuperuser: true },
      { permission: "allow", peerhost: "10.0.0.0/8", isSuperuser: false },
    ],
  }]);
  assert.deepEqual(chain.authenticate(info({ username: "admin" })), {
    result: "allow",
    superuser: true,
  });
  assert.equal(
    (chain.authenticate(info({ clientId: "bad", username: "admin" })) as AuthnResult).result,
    "deny",
  );
  assert.equal((chain.authenticate(info({ peerhost: "10.9.9.9" })) as AuthnResult).result, "allow");
  assert.equal((chain.authenticate(info({ peerhost: "11.9.9.9" })) as AuthnResult).result, "deny");
});

Deno.test("built_in_database: bootstrap CSV (plain and hash), user id type, sync answers", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(
      `${dir}/plain.csv`,
      "user_id,password,is_superuser\nu1,p1,true\nu2,p2,false\n",
    );
    const suffix = "7a37b85c8918eac19a9089c0fa5a2ab4dce3f90528dcdeec108b23ddf3607b99";
    Deno.writeTextFileSync(
      `${dir}/hash.csv`,
      `user_id,password_hash,salt,is_superuser\nc9,${suffix},salt,false\n`,
    );
    const base = {
      mechanism: "password_based",
      backend: "built_in_database",
      enable: true,
      passwordHashAlgorithm: { name: "sha256", saltPosition: "suffix" },
    } as const;
    const chain = createAuthenticationChain([
      {
        ...base,
        userIdType: "username",
        bootstrapFile: `${dir}/plain.csv`,
        bootstrapType: "plain",
      },
    ], { userStore: new MemoryUserStore() });
    assert.deepEqual(await chain.authenticate(info({ pw: "p1" })), {
      result: "allow",
      superuser: true,
    });
    assert.deepEqual(chain.authenticate(info({ username: "u2", pw: "p2" })), {
      result: "allow",
      superuser: false,
    }, "synchronous once loaded");
    assert.equal((chain.authenticate(info({ pw: "p2" })) as AuthnResult).result, "deny");
    const r = chain.authenticate(info({ username: "nobody", pw: "x" })) as AuthnResult;
    assert.equal(
      r.result === "deny" && r.reasonCode,
      0x87,
      "unknown user: ignore, then the chain's deny",
    );
    const byClient = createAuthenticationChain([
      { ...base, userIdType: "clientid", bootstrapFile: `${dir}/hash.csv`, bootstrapType: "hash" },
    ]);
    assert.deepEqual(await byClient.authenticate(info({ clientId: "c9", pw: "password" })), {
      result: "allow",
      superuser: false,
    });
    Deno.writeTextFileSync(`${dir}/bad.csv`, "user_id,password\nu1,p1,extra\n");
    assert.throws(
      () =>
        createAuthenticationChain([{
          ...base,
          userIdType: "username",
          bootstrapFile: `${dir}/bad.csv`,
          bootstrapType: "hash",
        }]),
      /line 1: the header must name/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

function jwtConfig(over: Partial<JwtAuthnConfig>): AuthenticatorConfig {
  return {
    mechanism: "jwt",
    enable: true,
    algorithm: "hmac-based",
    secret: "s3cret",
    secretBase64Encoded: false,
    publicKey: "",
    useJwks: false,
    endpoint: "",
    from: "password",
    verifyClaims: {},
    aclClaimName: "acl",
    disconnectAfterExpire: true,
    ...over,
  };
}

Deno.test("jwt: HMAC, verify_claims, acl claim, exp, and tokens from username or cookie", async () => {
  const key = enc.encode("s3cret");
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const good = await new SignJWT({ sub: "c1", is_superuser: true, acl: { pub: ["t/1"] } })
    .setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).sign(key);
  const chain = createAuthenticationChain([jwtConfig({ verifyClaims: { sub: "${clientid}" } })]);
  const r = await chain.authenticate(info({ pw: good }));
  assert.ok(
    r.result === "allow" && r.superuser && r.expireAt === exp * 1000 && r.acl?.length === 1,
  );
  assert.equal(
    (await chain.authenticate(info({ clientId: "c2", pw: good }))).result,
    "deny",
    "claim mismatch",
  );
  const expired = await new SignJWT({ sub: "c1" }).setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key);
  assert.equal((await chain.authenticate(info({ pw: expired }))).result, "deny");
  const forged = await new SignJWT({ sub: "c1" }).setProtectedHeader({ alg: "HS256" }).sign(
    enc.encode("other"),
  );
  assert.equal((await chain.authenticate(info({ pw: forged }))).result, "deny");
  assert.equal(
    (await chain.authenticate(info({ pw: "not-a-jwt" }))).result,
    "deny",
    "ignored, then the chain denies",
  );
  const fromUser = createAuthenticationChain([jwtConfig({ from: "username" })]);
  assert.equal((await fromUser.authenticate(info({ username: good }))).result, "allow");
  const fromCookie = createAuthenticationChain([jwtConfig({ from: "cookie" })]);
  assert.equal((await fromCookie.authenticate(info({ cookie: good }))).result, "allow");
});

Deno.test("jwt: public key PEM and a JWKS file", async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const token = await new SignJWT({ sub: "c1" }).setProtectedHeader({ alg: "RS256", kid: "k1" })
    .sign(privateKey);
  const pem = createAuthenticationChain([
    jwtConfig({ algorithm: "public-key", publicKey: await exportSPKI(publicKey) }),
  ]);
  assert.equal((await pem.authenticate(info({ pw: token }))).result, "allow");
  const path = Deno.makeTempFileSync({ suffix: ".json" });
  try {
    Deno.writeTextFileSync(
      path,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256" }] }),
    );
    const jwks = createAuthenticationChain([jwtConfig({ useJwks: true, endpoint: path })]);
    assert.equal((await jwks.authenticate(info({ pw: token }))).result, "allow");
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(
      enc.encode("x"),
    );
    assert.equal(
      (await jwks.authenticate(info({ pw: hmac }))).result,
      "deny",
      "no algorithm confusion",
    );
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("ScramMethod follows RFC 7677's SCRAM-SHA-256 example", () => {
  const store = new MemoryUserStore();
  const cfg = {
    mechanism: "scram",
    backend: "built_in_database",
    enable: true,
    algorithm: "sha256",
    iterationCount: 4096,
  } as const;
  const m = new ScramMethod(cfg, store, () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  m.addUser("user", "pencil", true, Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"));
  const ctx = { clientId: "c", username: undefined, peer: "127.0.0.1:1" };
  const first = m.start(ctx, enc.encode("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  assert.equal(first.kind, "continue");
  if (first.kind !== "continue") return;
  assert.equal(
    new TextDecoder().decode(first.data),
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  );
  const final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const done = m.next(ctx, first.state, enc.encode(final));
  assert.equal(done.kind, "success");
  if (done.kind !== "success") return;
  assert.equal(
    new TextDecoder().decode(done.data),
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
  );
  assert.equal(done.superuser, true);
  const wrong = m.next(ctx, first.state, enc.encode(final.replace("p=dH", "p=eH")));
  assert.deepEqual(wrong.kind === "failure" && wrong.reasonCode, 0x86);
  assert.equal(m.start(ctx, enc.encode("n,,n=nobody,r=x")).kind, "failure");
  assert.equal(m.start(ctx, enc.encode("garbage")).kind, "failure");
});
