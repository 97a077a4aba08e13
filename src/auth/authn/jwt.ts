/**
 * The `jwt` authenticator (EMQX emqx_authn_jwt) with jose: HMAC secret, public key (PEM or
 * X.509, text or file), or a JWKS (a file, or an http(s) endpoint fetched and cached for
 * `refresh_interval`). The token comes from the password, the username or (Culex) a browser
 * cookie. `exp`/`nbf` are checked; `verify_claims` compares claims with ${clientid}/${username};
 * `is_superuser` and the `acl` claim are read. Owned by src/auth/. A value that is not a JWT is
 * ignored (the next authenticator may know it); a bad signature, an expired token or a claim
 * mismatch is a deny. Verification is asynchronous (WebCrypto).
 */

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  importSPKI,
  importX509,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { Buffer } from "node:buffer";
import { isTruthy } from "../_hash.ts";
import { compileClientAcl } from "../acl_rule.ts";
import { clientVars, parseTemplate, render, type Template } from "../_template.ts";
import {
  type Authenticator,
  type AuthnAllow,
  type AuthnAnswer,
  type ClientInfo,
  RC_BAD_USERNAME_OR_PASSWORD,
  RC_NOT_AUTHORIZED,
} from "../types.ts";
import type { JwtAuthnConfig } from "../../config/types_auth.ts";

const HMAC_ALGS = ["HS256", "HS384", "HS512"];
const KEY_ALGS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];
const decoder = new TextDecoder();

/** Refresh interval of a remote JWKS (EMQX `refresh_interval`, 300 s). */
const JWKS_REFRESH_MS = 300_000;

type Key = Uint8Array | JWTVerifyGetKey;

export class JwtAuthenticator implements Authenticator {
  readonly id = "jwt";
  readonly #cfg: JwtAuthnConfig;
  readonly #key: Key;
  readonly #algorithms: string[];
  readonly #claims: readonly (readonly [string, Template])[];

  /** Reads the key files now: an unreadable or invalid key is a startup error. */
  constructor(cfg: JwtAuthnConfig) {
    this.#cfg = cfg;
    this.#claims = Object.entries(cfg.verifyClaims).map(([k, v]) =>
      [k, parseTemplate(v, ["clientid", "username"])] as const
    );
    if (cfg.useJwks) {
      this.#algorithms = KEY_ALGS;
      this.#key = /^https?:\/\//.test(cfg.endpoint)
        ? createRemoteJWKSet(new URL(cfg.endpoint), {
          cacheMaxAge: JWKS_REFRESH_MS,
          timeoutDuration: 5_000,
        })
        : createLocalJWKSet(JSON.parse(Deno.readTextFileSync(cfg.endpoint)));
    } else if (cfg.algorithm === "hmac-based") {
      this.#algorithms = HMAC_ALGS;
      this.#key = cfg.secretBase64Encoded
        ? new Uint8Array(Buffer.from(cfg.secret, "base64"))
        : new TextEncoder().encode(cfg.secret);
    } else {
      this.#algorithms = KEY_ALGS;
      const pem = cfg.publicKey.includes("-----BEGIN")
        ? cfg.publicKey
        : Deno.readTextFileSync(cfg.publicKey);
      const imported = new Map<string, ReturnType<typeof importSPKI>>();
      this.#key = (header) => {
        const alg = header.alg ?? "";
        const k = imported.get(alg) ??
          (pem.includes("BEGIN CERTIFICATE") ? importX509(pem, alg) : importSPKI(pem, alg));
        imported.set(alg, k);
        return k;
      };
    }
  }

  authenticate(info: ClientInfo): AuthnAnswer | Promise<AuthnAnswer> {
    const token = this.#token(info);
    if (token === undefined || !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) {
      return { result: "ignore", reason: "no JWT" };
    }
    return this.#verify(token, info);
  }

  #token(info: ClientInfo): string | undefined {
    if (this.#cfg.from === "username") return info.username;
    if (this.#cfg.from === "cookie") return info.cookie;
    return info.password ? decoder.decode(info.password) : undefined;
  }

  async #verify(token: string, info: ClientInfo): Promise<AuthnAnswer> {
    let payload: JWTPayload;
    try {
      const key = this.#key;
      const opts = { algorithms: this.#algorithms };
      payload = (typeof key === "function"
        ? await jwtVerify(token, key, opts)
        : await jwtVerify(token, key, opts)).payload;
    } catch (e) {
      return {
        result: "deny",
        reasonCode: RC_BAD_USERNAME_OR_PASSWORD,
        reason: `invalid JWT: ${(e as Error).message}`,
      };
    }
    const vars = clientVars(info);
    for (const [claim, t] of this.#claims) {
      if (String(payload[claim] ?? "") !== render(t, vars) || payload[claim] === undefined) {
        return {
          result: "deny",
          reasonCode: RC_NOT_AUTHORIZED,
          reason: `JWT claim "${claim}" does not match`,
        };
      }
    }
    const out: { -readonly [K in keyof AuthnAllow]: AuthnAllow[K] } = {
      result: "allow",
      superuser: isTruthy(payload.is_superuser),
    };
    if (this.#cfg.disconnectAfterExpire && typeof payload.exp === "number") {
      out.expireAt = payload.exp * 1000;
    }
    const acl = payload[this.#cfg.aclClaimName];
    if (acl !== undefined) {
      try {
        out.acl = compileClientAcl(acl);
      } catch (e) {
        return {
          result: "deny",
          reasonCode: RC_NOT_AUTHORIZED,
          reason: `invalid acl claim: ${(e as Error).message}`,
        };
      }
    }
    return out;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
