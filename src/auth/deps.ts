/**
 * AuthDeps: what the host (a shard, or the supervisor) gives the security modules. Owned by
 * src/auth/. Types only.
 */

import type { AuthMetrics } from "./metrics.ts";
import type { AclStore } from "./authz/file.ts";
import type { UserStore } from "./user_store.ts";

/** The few things the host gives the security modules. */
export interface AuthDeps {
  /** Shards in this node: a backend pool per shard holds ceil(pool_size / shards) connections. */
  readonly shards?: number;
  /** Counters (one per shard; the host sums them). A fresh one is made when omitted. */
  readonly metrics?: AuthMetrics;
  /** Users of password_based:built_in_database and scram:built_in_database. */
  readonly userStore?: UserStore;
  /** Rules of the built_in_database authorization source (shared with the HTTP API later). */
  readonly aclStore?: AclStore;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}
