/**
 * NodeRouting: a shard's view of the other nodes of the cluster (issue 15). Holds every peer
 * node's routes (filter → nodes, replicated by the supervisor's NodeRoute records), forwards a
 * message once to each node with a match, and tells the supervisor about this shard's route and
 * membership changes, retained writes and connects. Disabled (every method a no-op, no records)
 * when the node is not clustered. Writes only through the `toSupervisor` function it is given.
 */

import {
  clusterRetainHead,
  encodeOpFilter,
  encodeOpShared,
  FieldWriter,
  nodeForwardHead,
  nodeSharedHead,
  RecordKind,
  type SharedKey,
} from "../ipc/mod.ts";
import { encodeMessageParts, type Message } from "../mqtt/mod.ts";
import { TopicTrie } from "./topic_trie.ts";

/** Writes one record to the supervisor's ring. */
export type ToSupervisor = (kind: number, parts: readonly Uint8Array[]) => void;

/**
 * A forwarded message's encoded head (everything before its payload) is written here when it
 * fits: the ring writer copies a part this small before write() returns (ring.ts), so the bytes
 * are free again at once, and a forward allocates no buffer of its own (a fresh one with a
 * DataView is a malloc'd backing store for V8; on the node hop, measured in docs/cluster.md).
 */
const SCRATCH_BYTES = 4096;

/** See the file header. */
export class NodeRouting {
  readonly enabled: boolean;
  readonly #send: ToSupervisor;
  readonly #trie = new TopicTrie<true>();
  /** Nodes matched for the current message (reused; a handful of nodes). */
  readonly #matched: string[] = [];
  /** Session fetches and ENDs waiting for their TakeoverAnswer, by request id. */
  readonly #fetches = new Map<number, (body: string, from: string) => void>();
  #nextFetch = 1;
  /** A route add was sent since the last routesSynced(). */
  #routeAdded = false;
  /** Reused for every forward's NodeForward head (finish() copies what it wrote). */
  readonly #fields = new FieldWriter(256);
  readonly #scratch = new Uint8Array(SCRATCH_BYTES);
  readonly #alloc = (size: number): Uint8Array =>
    size <= SCRATCH_BYTES ? this.#scratch.subarray(0, size) : new Uint8Array(size);

  constructor(enabled: boolean, send: ToSupervisor) {
    this.enabled = enabled;
    this.#send = send;
  }

  /** This shard gained its first (add) or lost its last subscriber of `filter`. */
  route(add: boolean, filter: string): void {
    if (!this.enabled) return;
    if (add) this.#routeAdded = true;
    this.#send(RecordKind.ClusterRoute, [encodeOpFilter(add, filter)]);
  }

  /**
   * Null when no route was added since the last call; else resolves once the node routes added
   * so far are on every linked peer's shards, or at cluster.route_sync_timeout (the SUBACK waits
   * for it: route before SUBACK across nodes).
   */
  routesSynced(): Promise<void> | null {
    if (!this.enabled || !this.#routeAdded) return null;
    this.#routeAdded = false;
    const id = this.#ask();
    this.#send(RecordKind.ClusterRouteSync, [new FieldWriter().u32(id).finish()]);
    return new Promise((resolve) => this.#fetches.set(id, () => resolve()));
  }

  /** A client of this shard joined (add) or left a shared group. */
  member(add: boolean, m: SharedKey): void {
    if (this.enabled) this.#send(RecordKind.ClusterShared, [encodeOpShared(add, m)]);
  }

  /** A client connected here: the other nodes end their connection of the same id. */
  clientOpened(clientId: string): void {
    if (this.enabled) {
      this.#send(RecordKind.ClusterClientOpen, [new FieldWriter().str(clientId).finish()]);
    }
  }

  /** This shard now holds (true) or no longer holds a session of `clientId` (registry). */
  session(held: boolean, clientId: string): void {
    if (this.enabled) {
      this.#send(RecordKind.ClusterSession, [
        new FieldWriter().u8(held ? 1 : 0).str(clientId).finish(),
      ]);
    }
  }

  /**
   * Sends `message` once to each node with a matching route; `encoded` is reused when the
   * caller already encoded it. Returns true when some node matched.
   */
  forward(message: Message, encoded: Uint8Array[] | null): boolean {
    if (!this.enabled) return false;
    const nodes = this.#matched;
    nodes.length = 0;
    this.#trie.match(message.topic, (_filter, entries) => {
      for (const node of entries.keys()) if (!nodes.includes(node)) nodes.push(node);
    });
    if (nodes.length === 0) return false;
    const parts = encoded ?? encodeMessageParts(message, this.#alloc);
    const length = (parts[0]?.length ?? 0) + (parts[1]?.length ?? 0);
    for (const node of nodes) {
      const head = nodeForwardHead(node, message.topic, length, this.#fields);
      this.#send(RecordKind.NodeForward, [head, ...parts]);
    }
    nodes.length = 0;
    return true;
  }

  /** A retained write made by a client of this node, for every other node's copy. */
  retain(message: Message): void {
    if (!this.enabled) return;
    const parts = encodeMessageParts(message);
    const length = parts[0].length + parts[1].length;
    this.#send(RecordKind.ClusterRetain, [clusterRetainHead(message.topic, length), ...parts]);
  }

  /** One message for a shared-group member on another node. */
  shared(node: string, clientId: string, subscription: string, hops: number, message: Message) {
    const parts = encodeMessageParts(message);
    const length = parts[0].length + parts[1].length;
    const head = nodeSharedHead(node, clientId, subscription, hops, length);
    this.#send(RecordKind.NodeShared, [head, ...parts]);
  }

  /**
   * Asks the other nodes for the session of `clientId` (TAKEOVER_BEGIN). Resolves with the
   * moved session's JSON and the node that sent it, or null when no node had it. The
   * supervisor always answers, at the latest after cluster.takeover_timeout.
   */
  fetchSession(clientId: string): Promise<{ body: string; from: string } | null> {
    if (!this.enabled) return Promise.resolve(null);
    const id = this.#ask();
    this.#send(RecordKind.ClusterTakeover, [new FieldWriter().u32(id).str(clientId).finish()]);
    return new Promise((resolve) => {
      this.#fetches.set(id, (body, from) => resolve(body === "" ? null : { body, from }));
    });
  }

  /**
   * TAKEOVER_END to `node`, which sent the session: resolves with its pendings' JSON, or null
   * (none, node gone, or cluster.takeover_timeout).
   */
  endTakeover(node: string, clientId: string): Promise<string | null> {
    if (!this.enabled) return Promise.resolve(null);
    const id = this.#ask();
    const frame = new FieldWriter().u32(id).str(node).str(clientId).finish();
    this.#send(RecordKind.ClusterTakeoverEnd, [frame]);
    return new Promise((resolve) => {
      this.#fetches.set(id, (body) => resolve(body === "" ? null : body));
    });
  }

  #ask(): number {
    const id = this.#nextFetch;
    this.#nextFetch = id >= 0xffff_fffe ? 1 : id + 1;
    return id;
  }

  /** A TakeoverAnswer arrived. */
  answer(id: number, body: string, from: string): void {
    const done = this.#fetches.get(id);
    this.#fetches.delete(id);
    done?.(body, from);
  }

  /** A route of another node (NodeRoute). */
  remoteRoute(add: boolean, node: string, filter: string): void {
    if (add) this.#trie.add(filter, node, true);
    else this.#trie.remove(filter, node);
  }

  /** Forgets every route of `node` (NodeReset). */
  resetNode(node: string): void {
    for (const filter of [...this.#trie.filters()]) this.#trie.remove(filter, node);
  }

  /** Every remote filter with its nodes (for listings). */
  *entries(): Generator<[string, string[]]> {
    for (const filter of this.#trie.filters()) {
      yield [filter, [...(this.#trie.get(filter)?.keys() ?? [])]];
    }
  }
}
