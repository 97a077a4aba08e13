/**
 * Password hashing of dashboard admins and API key secrets (private to src/api/): PBKDF2-SHA256
 * through WebCrypto (runs off the event loop), stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>`
 * (base64), compared in constant time. Also EMQX's rule for a new admin password.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { decodeBase64, encodeBase64 } from "../bytes.ts";

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is 600,000; logins are rate-limited too. */
const ITERATIONS = 210_000;
const KEY_BITS = 256;
const PREFIX = "pbkdf2-sha256";

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    KEY_BITS,
  );
  return new Uint8Array(bits);
}

/** Hashes a password with a fresh salt. */
export async function hashSecret(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, ITERATIONS);
  return `${PREFIX}$${ITERATIONS}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/** A hash of a made-up password: checked against when the user is unknown (same time). */
let dummy: Promise<string> | null = null;

/** True when `password` matches `stored`; `stored` null costs the same time and is false. */
export async function verifySecret(password: string, stored: string | null): Promise<boolean> {
  const real = stored !== null;
  const text = stored ?? await (dummy ??= hashSecret(crypto.randomUUID()));
  const [prefix, iter, salt, hash] = text.split("$");
  if (prefix !== PREFIX || !iter || !salt || !hash) return false;
  const expected = decodeBase64(hash);
  const got = await derive(password, decodeBase64(salt), Number(iter));
  return real && got.length === expected.length && timingSafeEqual(got, expected);
}

/** Constant-time equality of two strings (tokens, API secrets' digests). */
export function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** SHA-256 of a text, base64 (API key secrets and tokens are kept only as digests). */
export async function digest(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return encodeBase64(new Uint8Array(d));
}

/** Random URL-safe text of `bytes` random bytes. */
export function randomText(bytes: number): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(bytes)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Why a new admin password is refused, or null (EMQX `emqx_dashboard_admin`: 8-64 characters,
 * at least two of letters, digits, other printable characters).
 */
export function weakPassword(password: string): string | null {
  if (password.length < 8 || password.length > 64) return "The range of password length is 8~64";
  if (!/^[\x21-\x7e]+$/.test(password)) return "The password must be printable ASCII";
  const kinds = [/[A-Za-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (kinds < 2) {
    return "The password must contain at least two different kind of characters " +
      "from groups of letters, numbers, and special characters.";
  }
  return null;
}
