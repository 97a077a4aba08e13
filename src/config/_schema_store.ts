/**
 * Schema of the durable store's keys (issue 13): `node.data_dir`, `durable_sessions.*` and
 * `retainer.*` with EMQX's `retainer.backend` block. Private to src/config/; schema.ts wires
 * these in. The deprecated `retainer.max_retained_messages` (Culex's name before the store) is
 * still accepted: it wins over `retainer.backend.max_retained_messages` while set, and adds a
 * warning to Config.warnings that the CLI logs once.
 */

import { z } from "zod";
import type { DurableSessionsConfig, RetainerConfig } from "./types_store.ts";
import { bool, int, oneOf, parseSize, size } from "./_fields.ts";

const UNLIMITED = Number.MAX_SAFE_INTEGER;
const MQTT_MAX_PACKET = 268_435_460;
const DEFAULT_MAX_RETAINED = 100_000;
/** EMQX 5.8's default `retainer.backend.index_specs`. */
export const DEFAULT_INDEX_SPECS: readonly (readonly number[])[] = [[1, 2, 3], [1, 3], [2, 3], [
  3,
]];
/** Topic level positions a retained index may use: the store keeps levels 1-8 as columns. */
export const MAX_INDEX_LEVEL = 8;

/** The warning Config.warnings carries when the old retained cap is set. */
export const DEPRECATED_MAX_RETAINED = "retainer.max_retained_messages is deprecated: use " +
  "retainer.backend.max_retained_messages (EMQX's name); the old key wins while it is set";

/** `node.data_dir`: a directory path; relative paths are resolved by loadConfig(). */
export function dataDir() {
  return z.unknown().transform((v, ctx): string => {
    if (typeof v === "string" && v.trim() !== "" && !v.includes("\0")) return v;
    ctx.addIssue({ code: "custom", message: 'a directory path such as "data"', input: v });
    return z.NEVER;
  }).default("data");
}

/** A list of up to 16 index specs, each a list of distinct level positions 1-8. */
function indexSpecs() {
  return z.unknown().transform((v, ctx): number[][] => {
    const isSpec = (x: unknown) =>
      Array.isArray(x) && x.length >= 1 && x.length <= MAX_INDEX_LEVEL &&
      x.every((p) => Number.isInteger(p) && p >= 1 && p <= MAX_INDEX_LEVEL) &&
      new Set(x).size === x.length;
    if (Array.isArray(v) && v.length <= 16 && v.every(isSpec)) return v as number[][];
    ctx.addIssue({
      code: "custom",
      message: `a list of up to 16 lists of distinct topic level positions 1-${MAX_INDEX_LEVEL}, ` +
        "e.g. [[1, 2, 3], [1, 3]]",
      input: v,
    });
    return z.NEVER;
  });
}

const backend = z.strictObject({
  type: oneOf(["built_in_database"] as const).default("built_in_database"),
  storage_type: oneOf(["ram", "disc"] as const).default("ram"),
  // Optional so that the deprecated top-level key can be told apart; default applied below.
  max_retained_messages: int(0, UNLIMITED, { infinity: true }).optional(),
  index_specs: indexSpecs().default(DEFAULT_INDEX_SPECS.map((s) => [...s])),
});

/** `retainer.*`; `backend` is EMQX's block. */
export const retainerSchema = z.strictObject({
  enable: bool().default(true),
  max_retained_messages: int(0, UNLIMITED, { infinity: true }).optional(),
  max_payload_size: size(0, MQTT_MAX_PACKET).default(1024 * 1024),
  backend: backend.prefault({}),
}).transform((r): RetainerConfig => ({
  enable: r.enable,
  maxRetainedMessages: r.max_retained_messages ?? r.backend.max_retained_messages ??
    DEFAULT_MAX_RETAINED,
  maxPayloadSize: r.max_payload_size,
  storageType: r.backend.storage_type,
  indexSpecs: r.backend.index_specs,
}));

/** Warnings to log once for what `retainer` was given (the deprecated key). */
export function retainerWarnings(input: unknown): string[] {
  const r = (input as { retainer?: { max_retained_messages?: unknown } } | null)?.retainer;
  return r?.max_retained_messages !== undefined && r.max_retained_messages !== null
    ? [DEPRECATED_MAX_RETAINED]
    : [];
}

/** `durable_sessions.*` (EMQX's root; `sync` and `max_store_size` are Culex's). */
export const durableSessionsSchema = z.strictObject({
  enable: bool().default(false),
  sync: oneOf(["normal", "full"] as const).default("normal"),
  max_store_size: storeSize().default(0),
}).transform((d): DurableSessionsConfig => ({
  enable: d.enable,
  sync: d.sync,
  maxStoreSize: d.max_store_size,
}));

/** A size of at least 1MB, or 0 / infinity (= until the disk is full). */
function storeSize() {
  return z.unknown().transform((v, ctx): number => {
    if (v === "infinity" || v === 0) return 0;
    const n = parseSize(v);
    if (n !== null && n >= 1024 * 1024) return n;
    ctx.addIssue({
      code: "custom",
      message: `a size such as "512MB", "4GB" of at least 1MB, or infinity`,
      input: v,
    });
    return z.NEVER;
  });
}
