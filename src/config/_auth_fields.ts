/**
 * Leaf schemas of the security keys: placeholder templates (checked against the placeholders a
 * key accepts), maps of templates, password_hash_algorithm and the LDAP `method`. Private to
 * src/config/ (used by _schema_auth.ts). Pure.
 */

import { z } from "zod";
import { text } from "./_fields.ts";
import type { PasswordHashConfig } from "./types_auth.ts";

/** Placeholders of authentication templates (EMQX AUTHN_DEFAULT_ALLOWED_VARS, subset). */
export const AUTHN_VARS = [
  "clientid",
  "username",
  "password",
  "peerhost",
  "cert_common_name",
  "cert_subject",
  "zone",
];
/** Placeholders of authorization query templates. */
export const AUTHZ_VARS = [
  "clientid",
  "username",
  "peerhost",
  "cert_common_name",
  "cert_subject",
  "zone",
  "topic",
  "action",
  "qos",
  "retain",
];

export const anyText = () => text(/^[\s\S]*$/, "a string");
export const nonEmpty = (what: string) => text(/\S/, what);

/** A string whose ${...} placeholders are all in `allowed`. */
export function template(allowed: readonly string[], required = false) {
  const list = allowed.map((v) => "${" + v + "}").join(", ");
  return z.unknown().transform((v, ctx): string => {
    if (typeof v !== "string" || (required && v.trim() === "")) {
      ctx.addIssue({ code: "custom", message: `a string (placeholders: ${list})`, input: v });
      return z.NEVER;
    }
    const bad = [...v.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1] as string).filter((n) =>
      !allowed.includes(n)
    );
    if (bad.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `placeholders among ${list} only (unknown: \${${bad[0]}})`,
        input: v,
      });
      return z.NEVER;
    }
    return v;
  });
}

/** A mapping of string keys to templates (headers, verify_claims) or to values (body, filter). */
export function templateMap(allowed: readonly string[], stringsOnly: boolean) {
  return z.unknown().transform((v, ctx): Record<string, string> => {
    const ok = typeof v === "object" && v !== null && !Array.isArray(v) &&
      Object.values(v).every((x) => !stringsOnly || typeof x === "string");
    if (!ok) {
      ctx.addIssue({
        code: "custom",
        message: stringsOnly ? "a mapping of names to strings" : "a mapping",
        input: v,
      });
      return z.NEVER;
    }
    for (const s of JSON.stringify(v).matchAll(/\$\{([^}]*)\}/g)) {
      if (!allowed.includes(s[1] as string)) {
        ctx.addIssue({
          code: "custom",
          message: `placeholders among ${
            allowed.map((a) => "${" + a + "}").join(", ")
          } only (unknown: \${${s[1]}})`,
          input: v,
        });
        return z.NEVER;
      }
    }
    return v as Record<string, string>;
  });
}

const SIMPLE = ["plain", "md5", "sha", "sha256", "sha512"];
const MACS = ["sha", "sha224", "sha256", "sha384", "sha512"];

/** password_hash_algorithm: {name, salt_position} | {name: bcrypt, salt_rounds} | {name: pbkdf2, ...}. */
export function hashAlgorithm(def: PasswordHashConfig) {
  const expected = `{name: plain|md5|sha|sha256|sha512, salt_position: disable|prefix|suffix}, ` +
    `{name: bcrypt, salt_rounds: 5-10} or {name: pbkdf2, mac_fun: sha|sha224|sha256|sha384|sha512, iterations: N, dk_length?: N}`;
  return z.unknown().transform((v, ctx): PasswordHashConfig => {
    const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
    const keys = Object.keys(o);
    const only = (allowed: string[]) => keys.every((k) => allowed.includes(k));
    if (SIMPLE.includes(o.name as string) && only(["name", "salt_position"])) {
      const pos = o.salt_position ?? "prefix";
      if (pos === "disable" || pos === "prefix" || pos === "suffix") {
        return { name: o.name as "plain", saltPosition: pos };
      }
    } else if (o.name === "bcrypt" && only(["name", "salt_rounds"])) {
      const r = o.salt_rounds ?? 10;
      if (typeof r === "number" && Number.isInteger(r) && r >= 5 && r <= 10) {
        return { name: "bcrypt", saltRounds: r };
      }
    } else if (o.name === "pbkdf2" && only(["name", "mac_fun", "iterations", "dk_length"])) {
      const it = o.iterations;
      const dk = o.dk_length;
      if (
        MACS.includes(o.mac_fun as string) && typeof it === "number" && Number.isInteger(it) &&
        it >= 1 &&
        it <= 10_000_000 &&
        (dk === undefined ||
          (typeof dk === "number" && Number.isInteger(dk) && dk >= 1 && dk <= 1024))
      ) {
        return {
          name: "pbkdf2",
          macFun: o.mac_fun as "sha256",
          iterations: it,
          dkLength: dk as number | undefined,
        };
      }
    }
    ctx.addIssue({ code: "custom", message: expected, input: v });
    return z.NEVER;
  }).default(def);
}

export const ldapMethod = z.unknown().transform((v, ctx) => {
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if (o.type === "hash") {
    const pa = o.password_attribute ?? "userPassword";
    const sa = o.is_superuser_attribute ?? "isSuperuser";
    if (typeof pa === "string" && typeof sa === "string") {
      return { type: "hash" as const, passwordAttribute: pa, isSuperuserAttribute: sa };
    }
  } else if (o.type === "bind") {
    const bp = o.bind_password ?? "${password}";
    if (
      typeof bp === "string" &&
      [...bp.matchAll(/\$\{([^}]*)\}/g)].every((m) => AUTHN_VARS.includes(m[1] as string))
    ) {
      return { type: "bind" as const, bindPassword: bp };
    }
  }
  ctx.addIssue({
    code: "custom",
    message:
      `{type: hash, password_attribute, is_superuser_attribute} or {type: bind, bind_password: "\${password}"}`,
    input: v,
  });
  return z.NEVER;
}).default({
  type: "hash",
  passwordAttribute: "userPassword",
  isSuperuserAttribute: "isSuperuser",
});
