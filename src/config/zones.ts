/**
 * zoneConfig(): the values a listener's zone gives its clients: `zones.<name>` merged over the
 * global `mqtt`, `flapping_detect` and `force_gc` (EMQX emqx_config zones). Owned by
 * src/config/. Pure: reads the frozen Config, returns a frozen resolved zone; an unknown zone
 * name (or "default" without a zones.default) is the global values.
 */

import type { Config, ResolvedZone } from "./types.ts";

const cache = new WeakMap<Config, Map<string, ResolvedZone>>();

/**
 * The resolved zone `name` of `config`.
 *
 * @example
 * ```ts
 * import { loadConfig, zoneConfig } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const config = loadConfig({ sets: ["zones.internal.mqtt.max_inflight=64"] });
 * assert.equal(zoneConfig(config, "internal").mqtt.maxInflight, 64);
 * assert.equal(zoneConfig(config, "default").mqtt.maxInflight, 32);
 * ```
 */
export function zoneConfig(config: Config, name: string): ResolvedZone {
  let byName = cache.get(config);
  if (!byName) cache.set(config, byName = new Map());
  const hit = byName.get(name);
  if (hit) return hit;
  const z = config.zones[name] ?? {};
  const resolved: ResolvedZone = Object.freeze({
    mqtt: Object.freeze({ ...config.mqtt, ...z.mqtt }),
    flappingDetect: Object.freeze({ ...config.flappingDetect, ...z.flappingDetect }),
    forceGc: Object.freeze({ ...config.forceGc, ...z.forceGc }),
  });
  byName.set(name, resolved);
  return resolved;
}
