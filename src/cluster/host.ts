/**
 * ClusterHost: the one way src/cluster/ reaches the shards of its node. The supervisor
 * implements it over its ShardLinks; the Cluster and NodeState only call it.
 */

/** How the Cluster reaches the shards of this node (the supervisor implements it). */
export interface ClusterHost {
  readonly shardCount: number;
  shardOf(key: string): number;
  /** Writes one record to one shard's ring. */
  toShard(shard: number, kind: number, parts: readonly Uint8Array[]): void;
  /** A control request to one shard (Request/Reply); resolves with its JSON answer. */
  request(shard: number, method: string, params: unknown): Promise<unknown>;
  /** Answers another node's question (NodeMethods of node_rpc.ts); rejects with why not. */
  serve(method: string, params: unknown): Promise<unknown>;
  /** Stops (true) or resumes (false) reading every client socket of this node. */
  pauseClients(on: boolean): void;
}
