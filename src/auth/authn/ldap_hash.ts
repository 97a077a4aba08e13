/**
 * Checks a password against an LDAP `userPassword` value as slapd stores it (RFC 2307 style):
 * `{SHA}`, `{SSHA}`, `{SHA256}`, `{SSHA256}`, `{SHA512}`, `{SSHA512}`, `{MD5}`, `{SMD5}`,
 * `{CLEARTEXT}` or no scheme (clear text). Owned by src/auth/. Pure; constant-time compare.
 */

import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { constantTimeEqual } from "../_hash.ts";

const SCHEMES: Record<string, { digest: string; size: number; salted: boolean }> = {
  SHA: { digest: "sha1", size: 20, salted: false },
  SSHA: { digest: "sha1", size: 20, salted: true },
  SHA256: { digest: "sha256", size: 32, salted: false },
  SSHA256: { digest: "sha256", size: 32, salted: true },
  SHA512: { digest: "sha512", size: 64, salted: false },
  SSHA512: { digest: "sha512", size: 64, salted: true },
  MD5: { digest: "md5", size: 16, salted: false },
  SMD5: { digest: "md5", size: 16, salted: true },
};

/**
 * True when `password` matches the stored `userPassword` value.
 *
 * @example
 * ```ts
 * import { ldapPasswordMatches } from "./ldap_hash.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await ldapPasswordMatches("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password"), true);
 * ```
 */
export function ldapPasswordMatches(stored: string, password: string): boolean {
  const pw = Buffer.from(password, "utf8");
  const m = /^\{([A-Za-z0-9]+)\}(.*)$/s.exec(stored);
  if (!m || (m[1] as string).toUpperCase() === "CLEARTEXT") {
    return constantTimeEqual(pw, Buffer.from(m ? (m[2] as string) : stored, "utf8"));
  }
  const scheme = SCHEMES[(m[1] as string).toUpperCase()];
  if (!scheme) return false;
  const raw = Buffer.from(m[2] as string, "base64");
  if (raw.length < scheme.size) return false;
  const hash = raw.subarray(0, scheme.size);
  const salt = scheme.salted ? raw.subarray(scheme.size) : Buffer.alloc(0);
  const computed = createHash(scheme.digest).update(pw).update(salt).digest();
  return constantTimeEqual(computed, hash) && (scheme.salted || raw.length === scheme.size);
}
