/**
 * Password hashing and checking as EMQX's emqx_authn_password_hashing: plain, md5, sha, sha256,
 * sha512 with the salt before (prefix) or after (suffix) the password or none, bcrypt and pbkdf2.
 * Private to src/auth/. Every comparison runs in constant time. The cheap digests answer
 * synchronously; bcrypt and pbkdf2 answer with a Promise because they cost milliseconds of CPU and
 * must not hold a shard's loop (bcryptjs yields between rounds; node:crypto's pbkdf2 runs off the
 * loop). Pure apart from that CPU work.
 */

import { createHash, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import type { MaybePromise } from "./types.ts";

/** EMQX's password_hash_algorithm, after the config schema. */
export type HashAlgorithm =
  | {
    readonly name: "plain" | "md5" | "sha" | "sha256" | "sha512";
    readonly saltPosition: "disable" | "prefix" | "suffix";
  }
  | { readonly name: "bcrypt"; readonly saltRounds: number }
  | {
    readonly name: "pbkdf2";
    readonly macFun: "sha" | "sha224" | "sha256" | "sha384" | "sha512";
    readonly iterations: number;
    readonly dkLength?: number | undefined;
  };

const encoder = new TextEncoder();

const NODE_DIGEST: Record<string, string> = {
  md5: "md5",
  sha: "sha1",
  sha224: "sha224",
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
};
const DIGEST_LENGTH: Record<string, number> = {
  sha: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** Equal in constant time for equal lengths; different lengths are unequal (also timed). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * True when `password` matches `storedHash` (and `salt`) under `algo`.
 *
 * @example
 * ```ts
 * import { checkPassword } from "./_hash.ts";
 * const hash = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"; // sha256("secret")
 * import assert from "node:assert/strict";
 * assert.equal(await checkPassword({ name: "sha256", saltPosition: "disable" }, "secret", hash, ""), true);
 * ```
 */
export function checkPassword(
  algo: HashAlgorithm,
  password: string,
  storedHash: string,
  salt: string,
): MaybePromise<boolean> {
  switch (algo.name) {
    case "bcrypt":
      // The hash carries its own salt and cost; a malformed hash is simply no match.
      return bcrypt.compare(password, storedHash).catch(() => false);
    case "pbkdf2":
      return new Promise((resolve) => {
        const len = algo.dkLength ?? DIGEST_LENGTH[algo.macFun] ?? 32;
        pbkdf2(
          password,
          salt,
          algo.iterations,
          len,
          NODE_DIGEST[algo.macFun] ?? "sha256",
          (e, k) => {
            if (e) return resolve(false);
            resolve(hexEqual(k.toString("hex"), storedHash));
          },
        );
      });
    case "plain":
      return constantTimeEqual(
        encoder.encode(salted(algo.saltPosition, password, salt)),
        encoder.encode(storedHash),
      );
    default:
      return hexEqual(simpleHash(algo.name, salted(algo.saltPosition, password, salt)), storedHash);
  }
}

function salted(pos: "disable" | "prefix" | "suffix", password: string, salt: string): string {
  if (pos === "prefix") return salt + password;
  if (pos === "suffix") return password + salt;
  return password;
}

function simpleHash(name: "md5" | "sha" | "sha256" | "sha512", text: string): string {
  return createHash(NODE_DIGEST[name] as string).update(text, "utf8").digest("hex");
}

/** Hex digests compare case-insensitively (databases store either case), in constant time. */
function hexEqual(computed: string, stored: string): boolean {
  return constantTimeEqual(encoder.encode(computed), encoder.encode(stored.toLowerCase()));
}

/** A stored user's credential: hash and salt as EMQX keeps them. */
export interface HashedPassword {
  readonly passwordHash: string;
  readonly salt: string;
}

/**
 * Hashes `password` for storing (built-in database users, bootstrap files of type plain).
 * A fresh random salt is used where the algorithm takes one.
 */
export async function hashPassword(algo: HashAlgorithm, password: string): Promise<HashedPassword> {
  switch (algo.name) {
    case "bcrypt": {
      const salt = await bcrypt.genSalt(algo.saltRounds);
      return { passwordHash: await bcrypt.hash(password, salt), salt };
    }
    case "pbkdf2": {
      const salt = randomBytes(16).toString("hex");
      const len = algo.dkLength ?? DIGEST_LENGTH[algo.macFun] ?? 32;
      const digest = NODE_DIGEST[algo.macFun] ?? "sha256";
      const key = await new Promise<Uint8Array>((resolve, reject) =>
        pbkdf2(password, salt, algo.iterations, len, digest, (e, k) => (e ? reject(e) : resolve(k)))
      );
      return { passwordHash: toHex(key), salt };
    }
    default: {
      const salt = algo.saltPosition === "disable" ? "" : randomBytes(16).toString("hex");
      const text = salted(algo.saltPosition, password, salt);
      if (algo.name === "plain") return { passwordHash: text, salt };
      return { passwordHash: simpleHash(algo.name, text), salt };
    }
  }
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** EMQX's is_superuser values: true/false, 1/0, "true"/"1" (anything else is false). */
export function isTruthy(v: unknown): boolean {
  if (v === true || v === 1 || v === 1n) return true;
  if (typeof v === "string") return v === "true" || v === "1";
  return false;
}

/** Reads a string column that may come back as text, bytes or a number (drivers differ). */
export function asText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return undefined;
}
