/**
 * The `client.authorize` question of one PUBLISH or SUBSCRIBE, asked through the hooks (the
 * authorization sources attach there). Superusers skip it; a source that answers "nomatch" all
 * along falls to the no-match rule. Synchronous when every callback is (cached and file-based
 * decisions); a Promise when a backend must be asked, which the caller hands to
 * Channel.suspendUntil(). Private to handlers/.
 */

import type { Channel } from "../channel.ts";
import type { AuthzAction, AuthzDecision } from "../hooks.ts";

/** "allow" or "deny", now or later. */
export type Verdict = "allow" | "deny";

/** Decision when no source matched (authorization.no_match; EMQX's default is allow). */
const NO_MATCH: Verdict = "allow";

function settle(d: AuthzDecision): Verdict {
  return d === "nomatch" ? NO_MATCH : d;
}

/** Asks whether `ch` may do `action`. */
export function authorize(ch: Channel, action: AuthzAction): Verdict | Promise<Verdict> {
  const hooks = ch.svc.hooks;
  if (ch.superuser || !hooks.has("client.authorize")) return "allow";
  const d = hooks.fold("client.authorize", "nomatch", ch.facts(), action);
  return d instanceof Promise ? d.then(settle) : settle(d);
}
