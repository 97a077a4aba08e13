/**
 * The `client.authorize` question of one PUBLISH or SUBSCRIBE, asked through the hooks (the
 * authorization sources of src/auth/ attach there, shard/security.ts). Superusers skip it; a
 * fold that nobody answered falls to `authorization.no_match`. Synchronous when every callback is
 * (cached and file-based decisions); a Promise when a backend must be asked, which the caller
 * hands to Channel.suspendUntil(). `authorization.deny_action = disconnect` turns a denial into
 * the end of the connection (MQTT 5: DISCONNECT 0x87), as EMQX. Private to handlers/.
 */

import { MqttError, ReasonCode } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import type { AuthzAction, AuthzDecision } from "../hooks.ts";

/** "allow" or "deny", now or later. */
export type Verdict = "allow" | "deny";

/** Asks whether `ch` may do `action`. */
export function authorize(ch: Channel, action: AuthzAction): Verdict | Promise<Verdict> {
  const hooks = ch.svc.hooks;
  if (ch.superuser || !hooks.has("client.authorize")) return "allow";
  const noMatch = ch.svc.config.authorization.noMatch;
  const settle = (d: AuthzDecision): Verdict => (d === "nomatch" ? noMatch : d);
  const d = hooks.fold("client.authorize", "nomatch", ch.facts(), action);
  return d instanceof Promise ? d.then(settle) : settle(d);
}

/** Ends the connection over a denial when `authorization.deny_action` is `disconnect`. */
export function enforceDenyAction(ch: Channel, what: string): void {
  if (ch.svc.config.authorization.denyAction !== "disconnect") return;
  throw new MqttError(ReasonCode.NotAuthorized, `${what} not authorized`);
}
