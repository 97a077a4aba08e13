/**
 * ClusterHost: the one way src/cluster/ reaches the shards of its node. The supervisor
 * implements it over its ShardLinks; the Cluster and NodeState only call it.
 */

import type { Socket } from "node:net";

/** TLS on the node links (`cluster.ssl_options`), built by the supervisor (src/supervisor/). */
export interface LinkTls {
  /** Server side of an accepted socket: `done` once, with the secured socket or why not. */
  accept(raw: Socket, done: (secured: Socket | null, why: string) => void): void;
  /** Dials `host:port` and starts the client side (frames written meanwhile wait for it). */
  connect(host: string, port: number): Socket;
}

/** How the Cluster reaches the shards of this node (the supervisor implements it). */
export interface ClusterHost {
  /** TLS for the links, or null for plain TCP. */
  readonly tls: LinkTls | null;
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
  /**
   * The node's retained messages page by page as [topic, encoded Message] when they are on disc
   * (`retainer.backend.storage_type: disc`: the shards hold none); absent when they are in the
   * shards' memory (the Cluster then asks the shards: `retained.export`).
   */
  retainedPages?(): AsyncIterable<[string, Uint8Array][]>;
}
