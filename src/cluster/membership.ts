/**
 * Membership: which addresses this node dials, and joining and leaving the cluster. The targets
 * are discovery's proposal (unless the node left) plus the nodes `ctl cluster join` linked to
 * (kept in `<node.data_dir>/cluster_joined.json`) and the nodes peers name in their Members
 * frames. A node only redials addresses it dialled itself, never the address of a node that
 * dialled it (docs/cluster.md). Links keeps the sockets; `forgetState` drops what a forgotten
 * node owned (routes, members, registry entries).
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { FieldWriter } from "../ipc/mod.ts";
import { JoinedFile } from "./joined.ts";
import { type Links, str, type Target } from "./links.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";

const log = getLogger(["culex", "cluster"]);

/** How long `ctl cluster join` waits for the link to the named node. */
const JOIN_TIMEOUT_MS = 10_000;

/** See the file header. */
export class Membership {
  readonly #node: string;
  readonly #links: Links;
  readonly #forgetState: (node: string) => void;
  /** Discovery's proposal (setTargets). */
  #discovered: readonly Target[] = [];
  /** Targets from `ctl cluster join` and from peers' Members frames, by address. */
  readonly #extra = new Map<string, Target>();
  /** `ctl cluster leave` ran: discovery's proposals are ignored until the next join. */
  #left = false;
  /** The nodes `ctl cluster join` linked to, kept in node.data_dir for the next start. */
  readonly #joined: JoinedFile;
  /** This node's cluster address as peers should dial it ("host:port"). */
  #advertised = "";

  constructor(config: Config, links: Links, forgetState: (node: string) => void) {
    this.#node = config.node.name;
    this.#links = links;
    this.#forgetState = forgetState;
    this.#joined = new JoinedFile(config.node.dataDir);
  }

  /** The listener is open on `port`: remember the address to advertise, dial earlier joins. */
  started(port: number): void {
    const own = this.#node.slice(this.#node.indexOf("@") + 1);
    this.#advertised = own.includes(":") ? `[${own}]:${port}` : `${own}:${port}`;
    // The joins of an earlier run: this node dials them again (EMQX keeps them in Mnesia).
    const joined = this.#joined.load();
    if (joined.length > 0) {
      log.info("Cluster: dialling {count} nodes joined before: {nodes}", {
        count: joined.length,
        nodes: joined.map((t) => t.name ?? t.address).join(", "),
      });
      for (const t of joined) this.#extra.set(t.address, t);
      this.#apply();
    }
  }

  /** Discovery's current proposal: dials new targets, stops redialling vanished ones. */
  setTargets(targets: readonly Target[]): void {
    this.#discovered = targets;
    this.#apply();
  }

  /**
   * `ctl cluster join`: dials `target` (and, through its Members frame, the nodes it links to)
   * and resolves with null once the link is up, or with why not after JOIN_TIMEOUT_MS (the
   * target is then dropped again).
   */
  async join(target: Target): Promise<string | null> {
    if (target.name === this.#node) return "cannot join itself";
    this.#left = false;
    this.#extra.set(target.address, target);
    this.#links.lastFailure.delete(target.address);
    this.#apply();
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    for (;;) {
      // The node may call itself otherwise than the join named it: its dialled link counts.
      const dial = this.#links.dialAt(target.address);
      const dialled = dial?.link;
      if (dialled?.isUp && dialled.peer !== null && this.#links.get(dialled.peer) === dialled) {
        const named = { address: target.address, name: dialled.peer };
        dial!.target = named;
        this.#extra.set(target.address, named);
        this.#joined.add(named);
        return null;
      }
      if (target.name !== undefined && this.#links.get(target.name)?.isUp) {
        this.#joined.add(target);
        return null;
      }
      if (Date.now() > deadline || this.#links.stopped) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#extra.delete(target.address);
    this.#apply();
    const why = this.#links.lastFailure.get(target.address) ?? "no answer";
    return `no link to ${target.name ?? target.address} within ${JOIN_TIMEOUT_MS} ms (${why})`;
  }

  /**
   * `ctl cluster leave`: tells every peer to forget this node, closes the links, forgets every
   * peer's routes now and stops dialling (discovery too) until the next join.
   */
  leave(): void {
    this.#links.broadcast(Frame.Leave, []);
    this.#left = true;
    this.#extra.clear();
    this.#joined.clear();
    this.#apply();
    const peers = [...this.#links.linked.keys(), ...this.#links.downNodes];
    for (const link of [...this.#links.linked.values()]) {
      link.close("this node left the cluster", false, true);
    }
    for (const peer of peers) this.forgetLocally(peer);
    log.info("Cluster: this node left the cluster");
  }

  /**
   * `ctl cluster force-leave`: every node (this one included) forgets `node` now: its routes
   * go without waiting for autoclean, nobody dials it again; if it is linked it leaves.
   * Null when done, else why not.
   */
  forceLeave(node: string): string | null {
    if (node === this.#node) return "cannot force-leave this node itself (use cluster leave)";
    if (!this.#links.knows(node)) return `node ${node} is not in the cluster`;
    this.#links.broadcast(Frame.Forget, [str(node)]);
    this.forgetLocally(node);
    return null;
  }

  /** Drops `node`: its link, its dial targets, its state, its autoclean timer. */
  forgetLocally(node: string): void {
    for (const [address, t] of [...this.#extra]) {
      if (t.name === node || this.#links.dialAt(address)?.link?.peer === node) {
        this.#extra.delete(address);
      }
    }
    this.#apply();
    this.#links.forget(node);
    this.#forgetState(node);
    this.#joined.remove(node);
    log.info("Cluster: node {node} forgotten", { node });
  }

  /** A peer's Leave frame. */
  peerLeaves(peer: string): void {
    log.info("Cluster: node {peer} leaves the cluster", { peer });
    this.forgetLocally(peer);
  }

  /** A peer's Forget frame naming `node`. */
  peerForgets(peer: string, node: string): void {
    log.info("Cluster: {peer} asks to forget {node}", { peer, node });
    if (node === this.#node) this.leave();
    else this.forgetLocally(node);
  }

  /** Another node's Members frame: dial the nodes it names that this node does not know. */
  members(from: PeerLink, members: readonly Target[]): void {
    let added = false;
    for (const [i, t] of members.entries()) {
      if (!t.name || t.name === this.#node || t.address === "") continue;
      // The sender itself: remembered so that a link it dialled can be redialled from here.
      if (i > 0 && this.#links.linked.has(t.name)) continue;
      if (this.#links.dialAt(t.address) || this.#extra.has(t.address)) continue;
      if (i === 0 && from.dialled) continue;
      this.#extra.set(t.address, t);
      added = true;
    }
    if (added) this.#apply();
  }

  /** This node and the nodes it links to, as a Members frame names them. */
  membersFrame(): Uint8Array {
    const list: [string, string][] = [[this.#node, this.#advertised]];
    for (const [peer, link] of this.#links.linked) {
      const d = this.#links.dialOf(link);
      const known = d?.target.address ??
        [...this.#extra.values()].find((t) => t.name === peer)?.address;
      if (known) list.push([peer, known]);
    }
    const w = new FieldWriter().u32(list.length);
    for (const [node, address] of list) w.str(node).str(address);
    return w.finish();
  }

  /** Dials the union of discovery's proposal (unless left) and the joined/learned targets. */
  #apply(): void {
    const targets = new Map<string, Target>();
    if (!this.#left) { for (const t of this.#discovered) targets.set(t.address, t); }
    for (const [address, t] of this.#extra) if (!targets.has(address)) targets.set(address, t);
    this.#links.applyTargets(targets);
  }
}
