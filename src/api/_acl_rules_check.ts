/**
 * The HTTP API's check of built-in authorization rules before they go to the shards (routes_auth.ts).
 * Private to src/api/; owns nothing.
 */

import { AclStore, builtinMaxRules } from "../auth/mod.ts";
import type { Config } from "../config/types.ts";
import type { Json } from "../supervisor/broker_control.ts";
import { badRequest } from "./_http.ts";

/**
 * Refuses rules the shards would refuse, before any shard changes, with EMQX's answer (400):
 * more than the source's `max_rules` for one username / client id, or a rule that does not
 * compile (a bad topic filter). The shards check again; this makes the answer a client error.
 */
export function checkRules(
  config: Config,
  kind: "username" | "clientid" | "all",
  who: string,
  raw: Json[],
) {
  const max = builtinMaxRules(config.authorization.sources);
  if (raw.length > max) {
    const whose = kind === "all"
      ? "all clients"
      : `${kind === "username" ? "User" : "Client"} '${who}'`;
    throw badRequest(`The rules length of ${whose} exceeds the maximum limit (max_rules ${max}).`);
  }
  try {
    new AclStore(max).set(kind, who, raw as Parameters<AclStore["set"]>[2]);
  } catch (err) {
    throw badRequest(
      `Rules of ${kind === "all" ? "all clients" : `'${who}'`}: ${
        err instanceof Error ? err.message : err
      }`,
    );
  }
}
