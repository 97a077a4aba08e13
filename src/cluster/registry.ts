/**
 * ClientRegistry: client id → node, the cluster's client registry (docs/cluster.md, "Client
 * registry"). Each node owns the entries of the sessions its shards hold (connected, or kept
 * after the connection for their expiry), learns of them through ClusterSession records
 * (SessionRegistry.onHeld), and sends the changes to every peer (REG_ADD / REG_DEL, coalesced and
 * sent once per supervisor pass in frames of at most REG_BATCH ids) and its whole set on every
 * link up (REG_RESET, REG_ADD pages, REG_END). The peers' entries are kept in one map bounded by
 * `cluster.registry_max`, with an index node → its client ids; a node's entries go with its
 * routes (autoclean, leave, force-leave), found through the index.
 * `whoToAsk` turns them into the nodes a clean_start = false connect asks for its session.
 */

import { getLogger } from "@logtape/logtape";
import { type FieldReader, FieldWriter } from "../ipc/mod.ts";
import type { Links } from "./links.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame, REG_VERSION } from "./proto_v1.ts";

const log = getLogger(["culex", "cluster"]);

/** Client ids per REG_ADD / REG_DEL frame (a 10-character id costs 14 bytes in it). */
export const REG_BATCH = 1_000;
/** Entries refused at registry_max are logged at most once per this many ms. */
const REFUSED_LOG_MS = 60_000;

/**
 * Session lookups by whom they asked (docs/cluster.md, "Client registry"): the metrics
 * `cluster.session_lookup.owner` (the node the registry names, alone), `.peers` (no usable entry:
 * the linked peers whose full set is not in, or every linked peer while an entry was refused at
 * registry_max), `.none` (no node asked: no session, at once). `.owner_fallback` (the named node
 * had none, the others were asked) is counted by the takeover (takeover.ts).
 */
export interface LookupCounts {
  owner: number;
  peers: number;
  none: number;
}

/** Whom a session lookup asks: `first`, then `then` when `first` had none. */
export interface Lookup {
  readonly first: PeerLink[];
  readonly then: PeerLink[];
  /** The node the registry names, or "" (for the log). */
  readonly named: string;
}

/** See the file header. */
export class ClientRegistry {
  readonly #links: Links;
  readonly #max: number;
  /** Client ids whose session this node's shards hold. */
  readonly #own = new Set<string>();
  /** Changes of #own not sent yet (true add, false delete), coalesced until flush(). */
  readonly #changes = new Map<string, boolean>();
  /** The peers' entries: client id → node, the last node that claimed it. */
  readonly #entries = new Map<string, string>();
  /**
   * Earlier claims still held (a session moving, or both sides of a split): promoted when the
   * last claim goes. Rare, so kept apart from #entries.
   */
  readonly #earlier = new Map<string, string[]>();
  #earlierCount = 0;
  /**
   * Node → the client ids it claims (its entries and its earlier claims), so that one node's
   * entries are found without a pass over the whole map (a full set's REG_RESET on every link
   * up, REG_END's count, autoclean, leave, force-leave). Not counted by registry_max: it holds
   * the same claims as #entries and #earlier.
   */
  readonly #byNode = new Map<string, Set<string>>();
  /** Links whose full set arrived (REG_END): everything their peer holds is in #entries. */
  readonly #complete = new Set<PeerLink>();
  /** Nodes with an entry refused at registry_max, until their next full set fits. */
  readonly #overflowed = new Set<string>();
  /** Entries refused at registry_max so far (metric `cluster.registry.refused`). */
  refused = 0;
  /** Lookups so far, by whom they asked (LookupCounts). */
  readonly lookups: LookupCounts = { owner: 0, peers: 0, none: 0 };
  #refusedLoggedAt = -Infinity;

  constructor(links: Links, max: number) {
    this.#links = links;
    this.#max = max;
  }

  /** Entries of peers kept now. */
  get size(): number {
    return this.#entries.size + this.#earlierCount;
  }

  /** A shard of this node now holds (true) or no longer holds a session of `clientId`. */
  held(held: boolean, clientId: string): void {
    if (held) this.#own.add(clientId);
    else this.#own.delete(clientId);
    this.#changes.set(clientId, held);
  }

  /** Shard `shard` restarted empty: the sessions it held are gone (restored ones come again). */
  shardRestarted(shard: number, shardOf: (clientId: string) => number): void {
    for (const id of [...this.#own]) if (shardOf(id) === shard) this.held(false, id);
  }

  /** End of a supervisor pass: the pass's changes go to every peer. */
  flush(): void {
    if (this.#changes.size === 0) return;
    if (this.#links.linked.size === 0) {
      this.#changes.clear(); // the full set on link up carries them
      return;
    }
    const adds: string[] = [];
    const dels: string[] = [];
    for (const [id, held] of this.#changes) (held ? adds : dels).push(id);
    this.#changes.clear();
    for (let i = 0; i < dels.length; i += REG_BATCH) {
      this.#links.broadcast(Frame.RegDel, [idsFrame(dels, i)]);
    }
    for (let i = 0; i < adds.length; i += REG_BATCH) {
      this.#links.broadcast(Frame.RegAdd, [idsFrame(adds, i)]);
    }
  }

  /** The full set on every link up (the peer may have restarted or healed from a split). */
  linkUp(link: PeerLink): void {
    const version = new FieldWriter().u8(REG_VERSION).finish();
    link.send(Frame.RegReset, [version]);
    const ids = [...this.#own];
    for (let i = 0; i < ids.length; i += REG_BATCH) link.send(Frame.RegAdd, [idsFrame(ids, i)]);
    link.send(Frame.RegEnd, [version]);
  }

  linkDown(link: PeerLink): void {
    this.#complete.delete(link);
  }

  /** `node` is gone (autoclean, leave, force-leave): its entries go. */
  dropNode(node: string): void {
    const count = this.#drop(node);
    if (count > 0) {
      log.info("Cluster: {count} client registry entries of {node} dropped", { count, node });
    }
  }

  /** Forgets every claim of `node` (a link up or a node gone): its own ids, not the whole map. */
  #drop(node: string): number {
    this.#overflowed.delete(node);
    const ids = this.#byNode.get(node);
    if (!ids) return 0;
    const n = ids.size;
    for (const id of [...ids]) this.#del(node, id);
    this.#byNode.delete(node);
    return n;
  }

  /** Client ids `node` claims now (its entries and earlier claims); for tests and counts. */
  claimsOf(node: string): ReadonlySet<string> {
    return this.#byNode.get(node) ?? new Set();
  }

  /** The node the registry names for `clientId` (the last claim), or undefined. */
  entryOf(clientId: string): string | undefined {
    return this.#entries.get(clientId);
  }

  /** Handles a registry frame; false when `type` is not one. */
  frame(link: PeerLink, type: number, r: FieldReader): boolean {
    if (type < Frame.RegAdd || type > Frame.RegEnd) return false;
    const version = r.u8();
    if (version !== REG_VERSION) {
      throw new RangeError(`registry frame version ${version} (this node reads ${REG_VERSION})`);
    }
    const peer = link.peer!;
    switch (type) {
      case Frame.RegReset:
        this.#complete.delete(link);
        this.#drop(peer);
        return true;
      case Frame.RegEnd: {
        this.#complete.add(link);
        let n = 0;
        for (const id of this.claimsOf(peer)) if (this.#entries.get(id) === peer) n++;
        // Exact text: tests read it.
        log.info(`Cluster: full client registry of ${peer} received: ${n} entries`);
        return true;
      }
      case Frame.RegAdd: {
        const count = r.u32();
        for (let n = count; n > 0; n--) this.#add(peer, r.str());
        // Exact text: tests wait for a change to arrive.
        log.debug(`Cluster: registry of ${peer}: +${count}`);
        return true;
      }
      default: { // RegDel
        const count = r.u32();
        for (let n = count; n > 0; n--) this.#del(peer, r.str());
        log.debug(`Cluster: registry of ${peer}: -${count}`);
        return true;
      }
    }
  }

  /**
   * Whom a clean_start = false connect with no session here asks (docs/cluster.md, "Client
   * registry", the lookup rule): the node the registry names, if linked, and everyone else only
   * if it has none; with no entry (or its node down), only the linked peers whose full set has
   * not arrived yet, or every linked peer while an entry was refused at registry_max. No one:
   * no session, at once.
   */
  whoToAsk(clientId: string): Lookup {
    const linked = [...this.#links.linked.values()];
    const named = this.#entries.get(clientId) ?? "";
    const owner = named === "" ? undefined : this.#links.get(named);
    if (owner) {
      this.lookups.owner++;
      return { first: [owner], then: linked.filter((l) => l !== owner), named };
    }
    const first = this.#overflowed.size > 0 ? linked : linked.filter((l) => !this.#complete.has(l));
    if (first.length > 0) this.lookups.peers++;
    else this.lookups.none++;
    return { first, then: [], named };
  }

  #add(peer: string, id: string): void {
    const last = this.#entries.get(id);
    if (last === peer) return;
    if (this.size >= this.#max) {
      this.refused++;
      this.#overflowed.add(peer);
      const now = Date.now();
      if (now - this.#refusedLoggedAt >= REFUSED_LOG_MS) {
        this.#refusedLoggedAt = now;
        log.warning(
          "Cluster: client registry full (cluster.registry_max {max}): {count} entries refused " +
            "so far; lookups that find nothing ask every node",
          { max: this.#max, count: this.refused },
        );
      }
      return;
    }
    if (last !== undefined) {
      // Two nodes hold a session of one id for a while: the last claim is asked first.
      this.#unclaim(peer, id);
      const earlier = this.#earlier.get(id);
      if (earlier) earlier.push(last);
      else this.#earlier.set(id, [last]);
      this.#earlierCount++;
    }
    this.#entries.set(id, peer);
    const ids = this.#byNode.get(peer);
    if (ids) ids.add(id);
    else this.#byNode.set(peer, new Set([id]));
  }

  /** `peer`'s claim on `id` is gone: out of its index. */
  #unindex(peer: string, id: string): void {
    const ids = this.#byNode.get(peer);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.#byNode.delete(peer);
  }

  /** `peer` no longer holds `id`: an earlier claim still held becomes the entry. */
  #del(peer: string, id: string): void {
    if (this.#entries.get(id) !== peer) return this.#unclaim(peer, id);
    this.#unindex(peer, id);
    const earlier = this.#earlier.get(id);
    const next = earlier?.pop();
    if (next === undefined) {
      this.#entries.delete(id);
      return;
    }
    this.#earlierCount--;
    if (earlier!.length === 0) this.#earlier.delete(id);
    this.#entries.set(id, next);
  }

  /** Forgets an earlier claim of `peer` on `id`, if any. */
  #unclaim(peer: string, id: string): void {
    const earlier = this.#earlier.get(id);
    const at = earlier?.indexOf(peer) ?? -1;
    if (at < 0) return;
    this.#unindex(peer, id);
    earlier!.splice(at, 1);
    this.#earlierCount--;
    if (earlier!.length === 0) this.#earlier.delete(id);
  }
}

/** RegAdd / RegDel payload: version, count, then up to REG_BATCH ids from `from`. */
function idsFrame(ids: readonly string[], from: number): Uint8Array {
  const end = Math.min(ids.length, from + REG_BATCH);
  const w = new FieldWriter().u8(REG_VERSION).u32(end - from);
  for (let i = from; i < end; i++) w.str(ids[i]!);
  return w.finish();
}
