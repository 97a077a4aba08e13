/**
 * TopicTrie<V>: a generic index of MQTT topic filters, each filter holding a map of keys to
 * values (route table: shard → count; subscription index: client id → options; ...). Knows
 * nothing about sessions, shards or messages: it stores filters and answers "which filters match
 * this topic". Qlobber-style word trie for filters with wildcards ('+' child, '#' entry per node)
 * plus a plain Map for exact filters, so a topic that no wildcard filter could match costs one
 * Map lookup. Filters must be valid (see src/mqtt/topic.ts); the trie does not validate them.
 *
 * @module
 */

import { hasWildcard } from "../mqtt/mod.ts";

type Entries<V> = Map<string, V>;

class TrieNode<V> {
  /** Literal child levels. */
  children: Map<string, TrieNode<V>> | null = null;
  /** The '+' child. */
  plus: TrieNode<V> | null = null;
  /** Entries of the filter ending at this node (a filter whose last level is '+' or literal). */
  entries: Entries<V> | null = null;
  filter = "";
  /** Entries of "<this node's path>/#" (or "#" at the root). */
  hash: Entries<V> | null = null;
  hashFilter = "";

  isEmpty(): boolean {
    return this.entries === null && this.hash === null && this.plus === null &&
      (this.children === null || this.children.size === 0);
  }
}

/**
 * Filter → (key → value) index with MQTT matching. `match` visits each matching filter once and
 * allocates no result array.
 *
 * @example
 * ```ts
 * import { TopicTrie } from "./topic_trie.ts";
 * import assert from "node:assert/strict";
 * const trie = new TopicTrie<number>();
 * trie.add("a/+", "shard-1", 1);
 * trie.add("a/#", "shard-2", 1);
 * const seen: string[] = [];
 * trie.match("a/b", (filter) => seen.push(filter));
 * assert.ok(seen.sort().join() === "a/#,a/+");
 * ```
 */
export class TopicTrie<V> {
  readonly #exact = new Map<string, Entries<V>>();
  readonly #root = new TrieNode<V>();
  #wildcards = 0;

  /** Number of filters held (with at least one key). */
  get size(): number {
    return this.#exact.size + this.#wildcards;
  }

  /**
   * Sets `key` → `value` under `filter` (replacing the value of an existing key). Returns true
   * when the filter got its first key.
   */
  add(filter: string, key: string, value: V): boolean {
    let entries: Entries<V> | null | undefined;
    if (!hasWildcard(filter)) {
      entries = this.#exact.get(filter);
      if (entries === undefined) this.#exact.set(filter, entries = new Map());
    } else {
      const levels = filter.split("/");
      const last = levels.length - 1;
      const isHash = levels[last] === "#";
      let node = this.#root;
      for (let i = 0; i < (isHash ? last : levels.length); i++) {
        const level = levels[i]!;
        if (level === "+") {
          node = node.plus ??= new TrieNode();
        } else {
          node.children ??= new Map();
          let child = node.children.get(level);
          if (child === undefined) node.children.set(level, child = new TrieNode());
          node = child;
        }
      }
      if (isHash) {
        if (node.hash === null) {
          node.hash = new Map();
          node.hashFilter = filter;
          this.#wildcards++;
        }
        entries = node.hash;
      } else {
        if (node.entries === null) {
          node.entries = new Map();
          node.filter = filter;
          this.#wildcards++;
        }
        entries = node.entries;
      }
    }
    const first = entries.size === 0;
    entries.set(key, value);
    return first;
  }

  /** Removes `key` from `filter`. Returns true when the filter lost its last key (and is gone). */
  remove(filter: string, key: string): boolean {
    if (!hasWildcard(filter)) {
      const entries = this.#exact.get(filter);
      if (entries === undefined || !entries.delete(key)) return false;
      if (entries.size > 0) return false;
      this.#exact.delete(filter);
      return true;
    }
    const levels = filter.split("/");
    const isHash = levels[levels.length - 1] === "#";
    if (isHash) levels.pop();
    const removed = this.#removeAt(this.#root, levels, 0, isHash, key);
    if (removed) this.#wildcards--;
    return removed;
  }

  // Depth-first so emptied nodes are pruned on the way back up.
  #removeAt(node: TrieNode<V>, levels: string[], i: number, isHash: boolean, key: string): boolean {
    if (i === levels.length) {
      const entries = isHash ? node.hash : node.entries;
      if (entries === null || !entries.delete(key) || entries.size > 0) return false;
      if (isHash) node.hash = null;
      else node.entries = null;
      return true;
    }
    const level = levels[i]!;
    const child = level === "+" ? node.plus : node.children?.get(level);
    if (child === null || child === undefined) return false;
    const removed = this.#removeAt(child, levels, i + 1, isHash, key);
    if (removed && child.isEmpty()) {
      if (level === "+") node.plus = null;
      else node.children!.delete(level);
    }
    return removed;
  }

  /** The keys and values of `filter`, or undefined when it has none. Do not mutate the map. */
  get(filter: string): ReadonlyMap<string, V> | undefined {
    if (!hasWildcard(filter)) return this.#exact.get(filter);
    const levels = filter.split("/");
    const isHash = levels[levels.length - 1] === "#";
    let node: TrieNode<V> | null | undefined = this.#root;
    for (let i = 0; i < levels.length - (isHash ? 1 : 0) && node; i++) {
      const level = levels[i]!;
      node = level === "+" ? node.plus : node.children?.get(level);
    }
    if (!node) return undefined;
    return (isHash ? node.hash : node.entries) ?? undefined;
  }

  /**
   * Calls `visit` once per filter matching `topic` (a valid topic name), with that filter's
   * entries (do not mutate them during the visit). '+' matches one level, '#' the parent level
   * and everything below, and wildcards at the first level skip topics starting with '$'
   * [MQTT-4.7.2-1].
   */
  match(topic: string, visit: (filter: string, entries: ReadonlyMap<string, V>) => void): void {
    const exact = this.#exact.get(topic);
    if (exact !== undefined) visit(topic, exact);
    if (this.#wildcards === 0) return;
    this.#walk(this.#root, topic.split("/"), 0, topic.charCodeAt(0) === 0x24, visit);
  }

  #walk(
    node: TrieNode<V>,
    levels: string[],
    i: number,
    dollar: boolean,
    visit: (filter: string, entries: ReadonlyMap<string, V>) => void,
  ): void {
    // A wildcard as the first level never matches a $-topic.
    const wild = !(dollar && i === 0);
    if (node.hash !== null && wild) visit(node.hashFilter, node.hash); // "x/#" also matches "x"
    if (i === levels.length) {
      if (node.entries !== null) visit(node.filter, node.entries);
      return;
    }
    const child = node.children?.get(levels[i]!);
    if (child !== undefined) this.#walk(child, levels, i + 1, dollar, visit);
    if (node.plus !== null && wild) this.#walk(node.plus, levels, i + 1, dollar, visit);
  }

  /** Every filter held, exact ones first. */
  *filters(): IterableIterator<string> {
    yield* this.#exact.keys();
    const stack: TrieNode<V>[] = [this.#root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.entries !== null) yield node.filter;
      if (node.hash !== null) yield node.hashFilter;
      if (node.plus !== null) stack.push(node.plus);
      if (node.children !== null) { for (const c of node.children.values()) stack.push(c); }
    }
  }
}
