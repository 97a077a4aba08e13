/**
 * NodeState: the cluster state the supervisor keeps. This node's routes and shared members
 * (counted over its shards, replicated to peers when a filter's first shard gains it or its last
 * loses it) and every peer's routes and members (handed to each shard, kept here so that a
 * restarted shard gets them again). Also turns what peers deliver into shard records. Owned by
 * the Cluster; writes records only through the ClusterHost.
 */

import {
  encodeNodeMember,
  encodeNodeRoute,
  FieldWriter,
  RecordKind,
  remoteSharedHead,
  ROUTES_PER_BATCH,
  type SharedKey,
} from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import { TopicTrie } from "../shard/topic_trie.ts";
import { hasWildcard } from "../mqtt/mod.ts";

export type { SharedKey };

/** Cuts `items` into arrays of at most ROUTES_PER_BATCH. */
export function* batches(items: Iterable<string>): Generator<string[]> {
  let batch: string[] = [];
  for (const x of items) {
    batch.push(x);
    if (batch.length >= ROUTES_PER_BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

const memberKey = (m: SharedKey) => `${m.group}\u0000${m.filter}\u0000${m.clientId}`;

/** See the file header. */
export class NodeState {
  readonly #host: ClusterHost;
  /** filter → shards of this node with subscribers. */
  readonly #local = new Map<string, Set<number>>();
  /**
   * The wildcard filters of #local as a trie (key: the shard's number as text), so that a message
   * from a peer goes straight to the shards with subscribers (deliver); exact filters are looked
   * up in #local itself (no second copy: per-device exact filters are the many).
   */
  readonly #localWild = new TopicTrie<number>();
  /** Shards matched for the current message (reused; a handful). */
  readonly #matched: number[] = [];
  /** member key → this node's member and its shard. */
  readonly #localShared = new Map<string, { m: SharedKey; shard: number }>();
  /** node → its filters. */
  readonly #remote = new Map<string, Set<string>>();
  /** node → member key → member. */
  readonly #remoteShared = new Map<string, Map<string, SharedKey>>();

  constructor(host: ClusterHost) {
    this.#host = host;
  }

  /** Counts a shard's route change; true when the node-level route changed. */
  localRoute(shard: number, add: boolean, filter: string): boolean {
    let shards = this.#local.get(filter);
    if (add) {
      if (!shards) this.#local.set(filter, shards = new Set());
      const first = shards.size === 0;
      shards.add(shard);
      if (hasWildcard(filter)) this.#localWild.add(filter, String(shard), shard);
      return first;
    }
    if (!shards?.delete(shard)) return false;
    if (hasWildcard(filter)) this.#localWild.remove(filter, String(shard));
    if (shards.size > 0) return false;
    this.#local.delete(filter);
    return true;
  }

  /** Records a shard's member change; true when it is news for the peers. */
  localShared(shard: number, add: boolean, m: SharedKey): boolean {
    const key = memberKey(m);
    if (add) {
      this.#localShared.set(key, { m, shard });
      return true;
    }
    return this.#localShared.delete(key);
  }

  localFilters(): Iterable<string> {
    return this.#local.keys();
  }

  *localMembers(): Iterable<SharedKey> {
    for (const { m } of this.#localShared.values()) yield m;
  }

  /** A restarted shard's routes leave; returns the node-level changes. */
  dropShard(shard: number): { add: boolean; filter: string }[] {
    const changes: { add: boolean; filter: string }[] = [];
    for (const filter of [...this.#local.keys()]) {
      if (this.localRoute(shard, false, filter)) changes.push({ add: false, filter });
    }
    return changes;
  }

  /** A restarted shard's members leave; returns them. */
  dropShardShared(shard: number): SharedKey[] {
    const gone: SharedKey[] = [];
    for (const [key, e] of this.#localShared) {
      if (e.shard !== shard) continue;
      this.#localShared.delete(key);
      gone.push(e.m);
    }
    return gone;
  }

  /** Sends every peer's routes and members to one (restarted) shard. */
  replayTo(shard: number): void {
    for (const [node, filters] of this.#remote) {
      for (const batch of batches(filters)) {
        this.#host.toShard(shard, RecordKind.NodeRoute, [encodeNodeRoute(true, node, batch)]);
      }
    }
    for (const [node, members] of this.#remoteShared) {
      for (const m of members.values()) {
        this.#host.toShard(shard, RecordKind.NodeMember, [encodeNodeMember(true, node, m)]);
      }
    }
  }

  // From peers -------------------------------------------------------------------------------

  /** Routes of `node` known here. */
  routeCount(node: string): number {
    return this.#remote.get(node)?.size ?? 0;
  }

  /** The peer re-sends its full set next: forget what it sent before. */
  resetNode(node: string): void {
    this.dropNode(node);
  }

  /** Forgets a node everywhere (reset before a full set, or autoclean). */
  dropNode(node: string): void {
    this.#remote.delete(node);
    this.#remoteShared.delete(node);
    const payload = new FieldWriter().str(node).finish();
    this.#toAll(RecordKind.NodeReset, [payload]);
  }

  /** Routes a peer gained (add) or lost, one frame's worth. */
  remoteRoutes(node: string, add: boolean, changed: readonly string[]): void {
    let filters = this.#remote.get(node);
    if (!filters) this.#remote.set(node, filters = new Set());
    for (const f of changed) {
      if (add) filters.add(f);
      else filters.delete(f);
    }
    this.#toAll(RecordKind.NodeRoute, [encodeNodeRoute(add, node, changed)]);
  }

  remoteShared(node: string, add: boolean, m: SharedKey): void {
    let members = this.#remoteShared.get(node);
    if (!members) this.#remoteShared.set(node, members = new Map());
    if (add) members.set(memberKey(m), m);
    else members.delete(memberKey(m));
    this.#toAll(RecordKind.NodeMember, [encodeNodeMember(add, node, m)]);
  }

  /**
   * A message from another node goes straight to each shard of this node with a matching route
   * (not through the shard its topic hashes to: one isolate hand-off less on the node hop, the
   * largest share of it, measured in bench/README.md). One publisher's messages on one topic
   * always take the same ring to a given shard, so their order holds. A shard whose route is
   * still travelling gets nothing, as the node-level route would not have reached the peer yet.
   */
  deliver(topic: string, message: Uint8Array): void {
    const shards = this.#matched;
    const exact = this.#local.get(topic);
    if (exact) { for (const shard of exact) shards.push(shard); }
    this.#localWild.match(topic, (_filter, entries) => {
      for (const shard of entries.values()) if (!shards.includes(shard)) shards.push(shard);
    });
    for (const shard of shards) this.#host.toShard(shard, RecordKind.RemotePublish, [message]);
    shards.length = 0;
  }

  /** A shared delivery goes to the shard that owns the member's client id. */
  deliverShared(clientId: string, subscription: string, hops: number, message: Uint8Array): void {
    const head = remoteSharedHead(clientId, subscription, hops, message.length);
    this.#host.toShard(this.#host.shardOf(clientId), RecordKind.RemoteShared, [head, message]);
  }

  /** A retained write from another node goes to the shard that owns the topic. */
  retain(topic: string, message: Uint8Array): void {
    this.#host.toShard(this.#host.shardOf(topic), RecordKind.RemoteRetain, [message]);
  }

  /** The client connected on another node: its shard here ends the old connection. */
  clientOpenedElsewhere(clientId: string): void {
    const payload = new FieldWriter().str(clientId).finish();
    this.#host.toShard(this.#host.shardOf(clientId), RecordKind.RemoteClientOpen, [payload]);
  }

  #toAll(kind: number, parts: readonly Uint8Array[]): void {
    for (let s = 0; s < this.#host.shardCount; s++) this.#host.toShard(s, kind, parts);
  }
}
