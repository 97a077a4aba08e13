/** The shard's public surface: what workers/shard.ts constructs. */
export { Shard } from "./shard.ts";
