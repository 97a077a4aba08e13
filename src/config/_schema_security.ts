/**
 * Schema of `banned`, `flapping_detect`, `zones.<name>` and the rate leaf of the listeners'
 * `messages_rate` / `bytes_rate` / `max_conn_rate` (EMQX 5.8 syntax "1000/s", "10MB/10s",
 * "infinity"). Private to src/config/ (schema.ts wires it in). Zone values have no defaults: a
 * zone is merged over the global values by zoneConfig() (zones.ts).
 */

import { z } from "zod";
import { bool, duration, int, MAX_TIMER_MS, readableFile } from "./_fields.ts";
import type { BannedConfig, FlappingDetectConfig, Rate } from "./types_auth.ts";
import type { ZoneOverrides } from "./types.ts";

/** Parses EMQX's rate syntax (see src/auth/limiter.ts parseRate, which mirrors it). */
export function parseRateText(v: unknown): Rate | null | undefined {
  if (v === "infinity") return null;
  if (typeof v === "number") {
    return Number.isFinite(v) && v > 0 ? { tokens: v, periodMs: 1000 } : undefined;
  }
  if (typeof v !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|B)?\s*\/\s*(\d+)?\s*(ms|s|m|h|d)\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? "b").toLowerCase()] ?? 1;
  const per =
    { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[4] as string).toLowerCase()] ??
      1000;
  const tokens = Number(m[1]) * unit;
  const periodMs = Number(m[3] ?? 1) * per;
  return tokens > 0 && periodMs > 0 ? { tokens, periodMs } : undefined;
}

/** A rate leaf: `{tokens, periodMs}`, or null for "infinity". */
export function rate() {
  return z.unknown().transform((v, ctx): Rate | null => {
    const r = parseRateText(v);
    if (r === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `a rate such as "1000/s", "500/10s", "10MB/s", "1GB/1m", or infinity`,
        input: v,
      });
      return z.NEVER;
    }
    return r;
  });
}

export const flappingFields = {
  enable: bool().default(false),
  window_time: duration(1000, MAX_TIMER_MS).default(60_000),
  max_count: int(1, 1_000_000).default(15),
  ban_time: duration(1000, MAX_TIMER_MS).default(300_000),
};

export const flappingSchema = z.strictObject(flappingFields).transform((
  f,
): FlappingDetectConfig => ({
  enable: f.enable,
  windowTime: f.window_time,
  maxCount: f.max_count,
  banTime: f.ban_time,
}));

export const bannedSchema = z.strictObject({
  bootstrap_file: readableFile().default(""),
}).transform((b): BannedConfig => ({ bootstrapFile: b.bootstrap_file }));

/** The same fields as `shape`, each optional and without its default. */
export function optionalFields(shape: Readonly<Record<string, z.ZodType>>): z.ZodObject {
  const out: Record<string, z.ZodType> = {};
  for (const [k, s] of Object.entries(shape)) {
    const inner = s instanceof z.ZodDefault || s instanceof z.ZodPrefault
      ? (s.unwrap() as z.ZodType)
      : s;
    out[k] = inner.optional();
  }
  return z.strictObject(out);
}

/** snake_case to camelCase (mqtt keys map one to one: max_packet_size → maxPacketSize). */
export function camelKey(k: string): string {
  return k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function camelKeys(o: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!o) return undefined;
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [camelKey(k), v]),
  );
}

const zoneName = z.string().regex(/^[A-Za-z0-9_-]+$/, {
  message: `a zone name of letters, digits, "_" or "-"`,
});

/** `zones`: name → overrides of `mqtt`, `flapping_detect`, `force_gc`. */
export function zonesSchema(
  mqttShape: Record<string, z.ZodType>,
  forceGcShape: Record<string, z.ZodType>,
) {
  return z.record(
    zoneName,
    z.strictObject({
      mqtt: optionalFields(mqttShape).optional(),
      flapping_detect: optionalFields(flappingFields).optional(),
      force_gc: optionalFields(forceGcShape).optional(),
    }).transform((z): ZoneOverrides => {
      const out: { -readonly [K in keyof ZoneOverrides]: ZoneOverrides[K] } = {};
      const m = camelKeys(z.mqtt);
      if (m) out.mqtt = m;
      const f = camelKeys(z.flapping_detect);
      if (f) out.flappingDetect = f;
      const g = camelKeys(z.force_gc);
      if (g) out.forceGc = g;
      return out;
    }),
  ).default({});
}
