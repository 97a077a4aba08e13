/**
 * Fuzz helpers for the MQTT decoder (issue #10): a seeded generator, generators of valid packets
 * of every type for 3.1.1 and 5.0, a mutation engine, per-connection plans, a bounded flood driver
 * and the healthy clients that watch the broker meanwhile. Used by tests/18_fuzz_test.ts and
 * bench/fuzz.ts. This file only re-exports.
 */

export * from "./prng.ts";
export * from "./wire.ts";
export * from "./gen_client.ts";
export * from "./gen_other.ts";
export * from "./mutate.ts";
export * from "./plan.ts";
export * from "./flood.ts";
export * from "./healthy.ts";
