/**
 * `scram:built_in_database`: MQTT 5 enhanced authentication with SCRAM-SHA-256 / SCRAM-SHA-512
 * (RFC 5802, RFC 7677) through the EnhancedAuthMethod interface, users in the UserStore with
 * stored and server keys only (never the password). Owned by src/auth/. Synchronous: HMACs
 * over a few hundred bytes; the expensive PBKDF2 runs only when a user is added.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import type { AuthContext, AuthStep, EnhancedAuthMethod } from "../enhanced.ts";
import { RC_BAD_USERNAME_OR_PASSWORD, RC_NOT_AUTHORIZED } from "../types.ts";
import type { StoredUser, UserStore } from "../user_store.ts";
import type { ScramAuthnConfig } from "../../config/types_auth.ts";

export const SCRAM_ID = "scram:built_in_database";

interface ScramState {
  readonly user: StoredUser;
  readonly nonce: string;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
}

const enc = (s: string) => Buffer.from(s, "utf8");

function digestName(algo: "sha256" | "sha512"): string {
  return algo;
}

/** Derives the stored keys of a password (RFC 5802 section 3). */
export function scramKeys(
  algo: "sha256" | "sha512",
  password: string,
  salt: Uint8Array,
  iterations: number,
): { storedKey: string; serverKey: string } {
  const len = algo === "sha256" ? 32 : 64;
  const salted = pbkdf2Sync(password, salt, iterations, len, digestName(algo));
  const clientKey = createHmac(algo, salted).update("Client Key").digest();
  return {
    storedKey: createHash(algo).update(clientKey).digest("base64"),
    serverKey: createHmac(algo, salted).update("Server Key").digest("base64"),
  };
}

/** The SCRAM method of one algorithm, plus user management for its store group. */
export class ScramMethod implements EnhancedAuthMethod {
  readonly name: string;
  readonly store: UserStore;
  readonly #cfg: ScramAuthnConfig;
  readonly #nonce: () => string;

  /** `nonce` is for tests (RFC 7677's example); the default is 18 random bytes. */
  constructor(cfg: ScramAuthnConfig, store: UserStore, nonce?: () => string) {
    this.#cfg = cfg;
    this.store = store;
    this.name = cfg.algorithm === "sha256" ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
    this.#nonce = nonce ?? (() => randomBytes(18).toString("base64"));
  }

  /** Adds or replaces a user (keys derived with `iteration_count`). */
  addUser(
    userId: string,
    password: string,
    isSuperuser = false,
    salt: Uint8Array = randomBytes(16),
  ): void {
    const iterations = this.#cfg.iterationCount;
    const keys = scramKeys(this.#cfg.algorithm, password, salt, iterations);
    this.store.put(SCRAM_ID, {
      userId,
      isSuperuser,
      scram: { ...keys, salt: Buffer.from(salt).toString("base64"), iterations },
    });
  }

  start(_ctx: AuthContext, data: Uint8Array | undefined): AuthStep {
    const text = data ? Buffer.from(data).toString("utf8") : "";
    // gs2 header: no channel binding ("n,,"), optional authzid ignored.
    const m = /^n,(?:a=[^,]*)?,(n=([^,]*),r=([^,]+)(?:,.*)?)$/.exec(text);
    if (!m) return fail(RC_NOT_AUTHORIZED, "malformed SCRAM client-first message");
    const userId = unescapeName(m[2] as string);
    const user = this.store.get(SCRAM_ID, userId);
    if (!user?.scram) return fail(RC_BAD_USERNAME_OR_PASSWORD, "unknown SCRAM user");
    const nonce = (m[3] as string) + this.#nonce();
    const serverFirst = `r=${nonce},s=${user.scram.salt},i=${user.scram.iterations}`;
    const state: ScramState = { user, nonce, clientFirstBare: m[1] as string, serverFirst };
    return { kind: "continue", data: enc(serverFirst), state };
  }

  next(_ctx: AuthContext, state: unknown, data: Uint8Array | undefined): AuthStep {
    const s = state as ScramState;
    const text = data ? Buffer.from(data).toString("utf8") : "";
    const m = /^(c=([^,]*),r=([^,]+)(?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(text);
    if (!m || m[3] !== s.nonce || m[2] !== "biws") {
      return fail(RC_NOT_AUTHORIZED, "malformed SCRAM client-final message");
    }
    const algo = this.#cfg.algorithm;
    const scram = s.user.scram as NonNullable<StoredUser["scram"]>;
    const authMessage = `${s.clientFirstBare},${s.serverFirst},${m[1]}`;
    const storedKey = Buffer.from(scram.storedKey, "base64");
    const proof = Buffer.from(m[4] as string, "base64");
    const signature = createHmac(algo, storedKey).update(authMessage).digest();
    if (proof.length !== signature.length) {
      return fail(RC_BAD_USERNAME_OR_PASSWORD, "bad SCRAM proof");
    }
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) {
      clientKey[i] = (proof[i] as number) ^ (signature[i] as number);
    }
    const check = createHash(algo).update(clientKey).digest();
    if (check.length !== storedKey.length || !timingSafeEqual(check, storedKey)) {
      return fail(RC_BAD_USERNAME_OR_PASSWORD, "bad SCRAM proof");
    }
    const serverSig = createHmac(algo, Buffer.from(scram.serverKey, "base64")).update(authMessage)
      .digest("base64");
    return { kind: "success", data: enc(`v=${serverSig}`), superuser: s.user.isSuperuser };
  }
}

function fail(reasonCode: number, reason: string): AuthStep {
  return { kind: "failure", reasonCode, reason };
}

/** RFC 5802 saslname: "=2C" is ",", "=3D" is "=". */
function unescapeName(n: string): string {
  return n.replace(/=2C/g, ",").replace(/=3D/g, "=");
}
