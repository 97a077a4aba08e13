/**
 * SharedSubs: shared subscription groups ($share/{group}/{filter}, $queue/{filter}) and the
 * strategies that pick one member per message. Membership is replicated to every shard (like
 * routes, it changes only on subscribe and unsubscribe), so the publishing shard picks the member
 * itself and sends the message straight to that member's shard: one hop, and no ordering race
 * between a join, its SUBACK and a publish seen by a third shard. Knows nothing about sessions.
 */

import type { SharedStrategy } from "../config/types.ts";
import type { Message } from "../mqtt/mod.ts";
import { hashPick } from "../ipc/mod.ts";
import { TopicTrie } from "./topic_trie.ts";

/** One member of a group: the client, the shard that owns it, and its subscription string. */
export interface SharedMember {
  readonly clientId: string;
  readonly shard: number;
  /** The filter as subscribed ("$share/g/f" or "$queue/f"), the session's key for it. */
  readonly subscription: string;
  /** Set for a member on another node of the cluster (then `shard` is -1). */
  readonly node?: string;
}

/** One group on one filter. Members are kept sorted by client id so that every shard agrees. */
export interface SharedGroup {
  readonly group: string;
  readonly filter: string;
  members: SharedMember[];
  roundRobin: number;
  sticky: SharedMember | null;
}

/** Every group of the broker; see the file header. */
export class SharedSubs {
  readonly #trie = new TopicTrie<SharedGroup>();
  readonly #strategy: SharedStrategy;

  constructor(strategy: SharedStrategy) {
    this.#strategy = strategy;
  }

  /** Groups in the broker (for stats). */
  get size(): number {
    let n = 0;
    for (const filter of this.#trie.filters()) n += this.#trie.get(filter)?.size ?? 0;
    return n;
  }

  join(group: string, filter: string, member: SharedMember): void {
    let g = this.#trie.get(filter)?.get(group);
    if (!g) {
      g = { group, filter, members: [], roundRobin: 0, sticky: null };
      this.#trie.add(filter, group, g);
    }
    const i = g.members.findIndex((m) => m.clientId === member.clientId && m.node === member.node);
    if (i >= 0) g.members[i] = member;
    else {
      g.members.push(member);
      g.members.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    }
  }

  /** Removes a member; with `node`, only the member of that node (the same id may be on two). */
  leave(group: string, filter: string, clientId: string, node?: string): void {
    const g = this.#trie.get(filter)?.get(group);
    if (!g) return;
    g.members = g.members.filter((m) => m.clientId !== clientId || m.node !== node);
    if (g.sticky?.clientId === clientId) g.sticky = null;
    if (g.members.length === 0) this.#trie.remove(filter, group);
  }

  get(group: string, filter: string): SharedGroup | undefined {
    return this.#trie.get(filter)?.get(group);
  }

  /** Drops every member on another node (NodeReset). */
  removeNode(node: string): void {
    for (const filter of [...this.#trie.filters()]) {
      for (const g of [...(this.#trie.get(filter)?.values() ?? [])]) {
        for (const m of g.members) {
          if (m.node === node) this.leave(g.group, filter, m.clientId, node);
        }
      }
    }
  }

  /** Drops every member on one shard (it restarted with empty state). */
  removeShard(shard: number): void {
    for (const filter of [...this.#trie.filters()]) {
      for (const g of [...(this.#trie.get(filter)?.values() ?? [])]) {
        for (const m of g.members) if (m.shard === shard) this.leave(g.group, filter, m.clientId);
      }
    }
  }

  /** Memberships of clients on `shard` (sent to a restarted peer). */
  *membersOf(shard: number): Generator<{ group: string; filter: string; member: SharedMember }> {
    for (const filter of this.#trie.filters()) {
      for (const g of this.#trie.get(filter)?.values() ?? []) {
        for (const m of g.members) {
          if (m.shard === shard) yield { group: g.group, filter, member: m };
        }
      }
    }
  }

  /** Visits every group whose filter matches `topic`. */
  match(topic: string, visit: (g: SharedGroup) => void): void {
    this.#trie.match(topic, (_filter, groups) => {
      for (const g of groups.values()) visit(g);
    });
  }

  /** The member that gets `message`, never `exclude`; null when no member is left. */
  pick(g: SharedGroup, message: Message, exclude?: string): SharedMember | null {
    const all = g.members;
    const candidates = exclude === undefined ? all : all.filter((m) => m.clientId !== exclude);
    const n = candidates.length;
    if (n === 0) return null;
    switch (this.#strategy) {
      case "random":
        return candidates[Math.floor(Math.random() * n)] ?? null;
      case "round_robin":
        return candidates[g.roundRobin++ % n] ?? null;
      case "sticky": {
        const s = g.sticky;
        if (s && s.clientId !== exclude && all.includes(s)) return s;
        g.sticky = candidates[Math.floor(Math.random() * n)] ?? null;
        return g.sticky;
      }
      case "hash_clientid":
        return candidates[hashPick(message.origin, n)] ?? null;
      case "hash_topic":
        return candidates[hashPick(message.topic, n)] ?? null;
    }
  }
}
