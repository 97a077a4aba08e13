/**
 * Cluster: this node's peer links and the cluster state it replicates. Listens on
 * `cluster.listen`, dials the targets discovery proposes (backoff 0.5 s doubling to 10 s,
 * jittered), keeps one link per peer node, replicates this node's routes and shared-subscription
 * members (full set on every link up), carries forwarded publishes, shared deliveries, retained
 * writes and client opens, and hands what peers send to the shards through the ClusterHost.
 * Lives in the supervisor isolate; never touches a ring itself.
 */

import { getLogger } from "@logtape/logtape";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Config } from "../config/types.ts";
import { FieldReader, FieldWriter, RecordKind } from "../ipc/mod.ts";
import { type LinkEvents, type LinkIdentity, PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";
import { batches, NodeState } from "./node_state.ts";
import { TakeoverFences } from "./takeover_fence.ts";
import { JoinedFile } from "./joined.ts";
import { TombstoneFile } from "./tombstone_file.ts";
import type { ClusterHost } from "./host.ts";
import { type NodeMethod, type NodeMethods, NodeRequestError, NodeRpc } from "./node_rpc.ts";
import {
  connectedClients,
  olderHere,
  RetainTombstones,
  sendConnected,
  sendRetainedSet,
} from "./heal.ts";

export type { ClusterHost };
import type { SharedKey } from "../ipc/mod.ts";

const log = getLogger(["culex", "cluster"]);

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/**
 * A refused link (wrong cookie, other cluster) is logged once per peer address and minute; a
 * failed TLS handshake once per address, reason and minute.
 */
const REFUSAL_LOG_MS = 60_000;
/** Frames beyond the largest MQTT packet carry the message's own fields. */
const FRAME_SLACK = 64 * 1024;
/** How long `ctl cluster join` waits for the link to the named node. */
const JOIN_TIMEOUT_MS = 10_000;

/** A peer address to dial, as discovery names it. */
export interface Target {
  /** "host:port". */
  readonly address: string;
  /** The node name when discovery knows it (seeds); else learned from HELLO. */
  readonly name?: string;
}

interface Dial {
  target: Target;
  attempt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  link: PeerLink | null;
  /** The address turned out to be this node. */
  self: boolean;
  wanted: boolean;
}

interface Takeover {
  readonly waiting: Set<PeerLink>;
  body: string;
  /** The node whose reply carried the body. */
  from: string;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly done: (body: string, from: string) => void;
}

/** Status of one peer, for `cluster status` and the tests. */
export interface PeerStatus {
  readonly node: string;
  readonly status: "running" | "stopped";
}

/** This node's links; see the file header. */
export class Cluster {
  readonly node: string;
  readonly state: NodeState;
  #config: Config;
  #host: ClusterHost;
  #id: LinkIdentity;
  #server: Server | null = null;
  #dials = new Map<string, Dial>();
  #links = new Map<string, PeerLink>();
  #pending = new Set<PeerLink>();
  #down = new Map<string, ReturnType<typeof setTimeout>>();
  #refusalLogged = new Map<string, number>();
  #congested = new Set<PeerLink>();
  #stopped = false;
  /** Takeovers this node asked for, waiting for the peers' replies. */
  #takeovers = new Map<number, Takeover>();
  #nextTakeover = 1;
  /** When each peer's full route set began to arrive (RoutesReset). */
  #resyncFrom = new Map<string, number>();
  /** Discovery's proposal (setTargets). */
  #discovered: readonly Target[] = [];
  /** Targets from `ctl cluster join` and from peers' Members frames, by address. */
  #extra = new Map<string, Target>();
  /** `ctl cluster leave` ran: discovery's proposals are ignored until the next join. */
  #left = false;
  /** The nodes `ctl cluster join` linked to, kept in node.data_dir for the next start. */
  readonly #joined: JoinedFile;
  /** This node's cluster address as peers should dial it ("host:port"). */
  #advertised = "";
  /** Why the last link to an address failed (for `ctl cluster join`'s error). */
  #lastFailure = new Map<string, string>();
  /** Questions to other nodes (API, ctl). */
  readonly #rpc: NodeRpc;
  /** TAKEOVER_END's barrier (takeover_fence.ts). */
  readonly #fences: TakeoverFences;
  /** Cleared retained topics, against older copies from peers after a split. */
  readonly #tombstones: RetainTombstones;
  readonly #tombstoneFile: TombstoneFile | null;
  /** A peer's connected clients as its ClientsFull frames arrive (until ClientsEnd). */
  #peerClients = new Map<PeerLink, Map<string, number>>();
  /** Messages for a node whose link is down (dropped: its subscribers are unreachable). */
  droppedNodeDown = 0;
  #dropLoggedAt = 0;

  constructor(config: Config, host: ClusterHost) {
    this.#config = config;
    this.#host = host;
    this.node = config.node.name;
    this.state = new NodeState(host);
    this.#fences = new TakeoverFences(host);
    this.#id = {
      node: config.node.name,
      cluster: config.cluster.name,
      cookie: config.node.cookie,
      heartbeatInterval: config.cluster.heartbeatInterval,
      heartbeatTimeout: config.cluster.heartbeatTimeout,
      maxFrame: config.mqtt.maxPacketSize + FRAME_SLACK,
    };
    this.#rpc = new NodeRpc(config.cluster.requestTimeout);
    this.#joined = new JoinedFile(config.node.dataDir);
    this.#tombstones = new RetainTombstones(
      config.cluster.retainTombstoneTtl,
      config.cluster.retainTombstoneMax,
    );
    // Retained messages on disc outlive a restart: so must their clears (tombstone_file.ts).
    this.#tombstoneFile = config.retainer.storageType === "disc"
      ? new TombstoneFile(config.node.dataDir, this.#tombstones)
      : null;
  }

  /** Opens the cluster listener; logs `Cluster listening on <host>:<port>`. */
  async start(): Promise<{ host: string; port: number }> {
    // Before any link: a peer's older copy of a cleared topic is refused from the first frame.
    const restored = this.#tombstoneFile?.start() ?? 0;
    // Exact text: tests read it.
    if (restored > 0) log.info(`Cluster: restored ${restored} retained clears from disc`);
    const { host, port } = this.#config.cluster.listen;
    const server = createServer((socket) => this.#accepted(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    const real = typeof addr === "object" && addr ? addr.port : port;
    const own = this.node.slice(this.node.indexOf("@") + 1);
    this.#advertised = own.includes(":") ? `[${own}]:${real}` : `${own}:${real}`;
    // Exact text: tests and operators read the port from this line.
    log.info(`Cluster ${this.#config.cluster.name} node ${this.node} listening on ${host}:${real}`);
    // The joins of an earlier run: this node dials them again (EMQX keeps them in Mnesia).
    const joined = this.#joined.load();
    if (joined.length > 0) {
      log.info("Cluster: dialling {count} nodes joined before: {nodes}", {
        count: joined.length,
        nodes: joined.map((t) => t.name ?? t.address).join(", "),
      });
      for (const t of joined) this.#extra.set(t.address, t);
      this.#applyTargets();
    }
    return { host, port: real };
  }

  /** Nodes this node has a link to, or had one to and keeps routes of. */
  peers(): PeerStatus[] {
    const out: PeerStatus[] = [];
    for (const node of this.#links.keys()) out.push({ node, status: "running" });
    for (const node of this.#down.keys()) out.push({ node, status: "stopped" });
    return out;
  }

  /** Names of the nodes linked now (running) and of those down but not yet cleaned (stopped). */
  status(): { running: string[]; stopped: string[] } {
    return {
      running: [this.node, ...this.#links.keys()].sort(),
      stopped: [...this.#down.keys()].sort(),
    };
  }

  /** Discovery's current proposal: dials new targets, stops redialling vanished ones. */
  setTargets(targets: readonly Target[]): void {
    this.#discovered = targets;
    this.#applyTargets();
  }

  /**
   * `ctl cluster join`: dials `target` (and, through its Members frame, the nodes it links to)
   * and resolves with null once the link is up, or with why not after JOIN_TIMEOUT_MS (the
   * target is then dropped again).
   */
  async join(target: Target): Promise<string | null> {
    if (target.name === this.node) return "cannot join itself";
    this.#left = false;
    this.#extra.set(target.address, target);
    this.#lastFailure.delete(target.address);
    this.#applyTargets();
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    for (;;) {
      // The node may call itself otherwise than the join named it: its dialled link counts.
      const dial = this.#dials.get(target.address);
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
      if (Date.now() > deadline || this.#stopped) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#extra.delete(target.address);
    this.#applyTargets();
    const why = this.#lastFailure.get(target.address) ?? "no answer";
    return `no link to ${target.name ?? target.address} within ${JOIN_TIMEOUT_MS} ms (${why})`;
  }

  /**
   * `ctl cluster leave`: tells every peer to forget this node, closes the links, forgets every
   * peer's routes now and stops dialling (discovery too) until the next join.
   */
  leave(): void {
    this.#broadcast(Frame.Leave, []);
    this.#left = true;
    this.#extra.clear();
    this.#joined.clear();
    this.#applyTargets();
    const peers = [...this.#links.keys(), ...this.#down.keys()];
    for (const link of [...this.#links.values()]) {
      link.close("this node left the cluster", false, true);
    }
    for (const peer of peers) this.#forgetLocally(peer);
    log.info("Cluster: this node left the cluster");
  }

  /**
   * `ctl cluster force-leave`: every node (this one included) forgets `node` now: its routes
   * go without waiting for autoclean, nobody dials it again; if it is linked it leaves.
   * Null when done, else why not.
   */
  forceLeave(node: string): string | null {
    if (node === this.node) return "cannot force-leave this node itself (use cluster leave)";
    if (!this.#links.has(node) && !this.#down.has(node)) {
      return `node ${node} is not in the cluster`;
    }
    this.#broadcast(Frame.Forget, [str(node)]);
    this.#forgetLocally(node);
    return null;
  }

  /** Drops `node`: its link, its dial targets, its routes and members, its autoclean timer. */
  #forgetLocally(node: string): void {
    for (const [address, t] of [...this.#extra]) {
      if (t.name === node || this.#dials.get(address)?.link?.peer === node) {
        this.#extra.delete(address);
      }
    }
    this.#applyTargets();
    this.#links.get(node)?.close("forgotten (leave or force-leave)", false, true);
    const timer = this.#down.get(node);
    if (timer !== undefined) clearTimeout(timer);
    this.#down.delete(node);
    this.state.dropNode(node);
    this.#joined.remove(node);
    log.info("Cluster: node {node} forgotten", { node });
  }

  /**
   * Asks `node` (a linked peer) one of NodeMethods; rejects with NodeRequestError when it is
   * not linked, its link goes down or it does not answer within cluster.request_timeout.
   */
  ask<M extends NodeMethod>(
    node: string,
    method: M,
    params: NodeMethods[M]["params"],
  ): Promise<NodeMethods[M]["result"]> {
    const link = this.#links.get(node);
    if (!link?.isUp) return Promise.reject(new NodeRequestError(node, "not linked"));
    return this.#rpc.ask(link, method, params);
  }

  /** Dials the union of discovery's proposal (unless left) and the joined/learned targets. */
  #applyTargets(): void {
    const targets = new Map<string, Target>();
    if (!this.#left) { for (const t of this.#discovered) targets.set(t.address, t); }
    for (const [address, t] of this.#extra) if (!targets.has(address)) targets.set(address, t);
    const seen = new Set<string>();
    for (const t of targets.values()) {
      if (t.name === this.node) continue;
      seen.add(t.address);
      const d = this.#dials.get(t.address);
      if (d) {
        d.wanted = true;
        continue;
      }
      const dial: Dial = {
        target: t,
        attempt: 0,
        timer: undefined,
        link: null,
        self: false,
        wanted: true,
      };
      this.#dials.set(t.address, dial);
      this.#dial(dial);
    }
    for (const [address, d] of this.#dials) {
      if (seen.has(address)) continue;
      d.wanted = false;
      clearTimeout(d.timer);
      if (!d.link) this.#dials.delete(address);
    }
  }

  /** Another node's Members frame: dial the nodes it names that this node does not know. */
  #members(from: PeerLink, members: readonly Target[]): void {
    let added = false;
    for (const [i, t] of members.entries()) {
      if (!t.name || t.name === this.node || t.address === "") continue;
      // The sender itself: remembered so that a link it dialled can be redialled from here.
      if (i > 0 && this.#links.has(t.name)) continue;
      if (this.#dials.has(t.address) || this.#extra.has(t.address)) continue;
      if (i === 0 && from.dialled) continue;
      this.#extra.set(t.address, t);
      added = true;
    }
    if (added) this.#applyTargets();
  }

  /** This node and the nodes it links to, as a Members frame names them. */
  #membersFrame(): Uint8Array {
    const list: [string, string][] = [[this.node, this.#advertised]];
    for (const [peer, link] of this.#links) {
      const d = this.#dialOf(link);
      const known = d?.target.address ??
        [...this.#extra.values()].find((t) => t.name === peer)?.address;
      if (known) list.push([peer, known]);
    }
    const w = new FieldWriter().u32(list.length);
    for (const [node, address] of list) w.str(node).str(address);
    return w.finish();
  }

  /** Closes every link and the listener. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#tombstoneFile?.stop();
    this.#fences.stop();
    for (const d of this.#dials.values()) clearTimeout(d.timer);
    for (const t of this.#down.values()) clearTimeout(t);
    for (const link of [...this.#links.values(), ...this.#pending]) link.close("the node stops");
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Hands every link's gathered frames to its socket (end of a supervisor pass). */
  flush(): void {
    for (const link of this.#links.values()) link.flush();
  }

  // From the shards --------------------------------------------------------------------------

  /** A shard's filter gained its first (add) or lost its last subscriber. */
  shardRoute(shard: number, add: boolean, filter: string): void {
    const change = this.state.localRoute(shard, add, filter);
    if (change) this.#broadcast(add ? Frame.RouteAdd : Frame.RouteDel, [routeFrame([filter])]);
  }

  /** A shard's client joined (add) or left a shared-subscription group. */
  shardShared(shard: number, add: boolean, m: SharedKey): void {
    if (this.state.localShared(shard, add, m)) {
      this.#broadcast(add ? Frame.SharedAdd : Frame.SharedDel, [sharedFields(m)]);
    }
  }

  /** Shard `shard` restarted empty: its routes go, remote state is sent to it again. */
  shardRestarted(shard: number): void {
    const gone = this.state.dropShard(shard).map((c) => c.filter);
    for (const batch of batches(gone)) this.#broadcast(Frame.RouteDel, [routeFrame(batch)]);
    for (const m of this.state.dropShardShared(shard)) {
      this.#broadcast(Frame.SharedDel, [sharedFields(m)]);
    }
    this.state.replayTo(shard);
  }

  /** One message for the subscribers of node `node` (frame: topic, message). */
  forward(node: string, topic: string, message: Uint8Array): void {
    this.#sendTo(node, Frame.Publish, [
      new FieldWriter().str(topic).u32(message.length).finish(),
      message,
    ]);
  }

  /** One message for one shared-group member on node `node`. */
  forwardShared(
    node: string,
    clientId: string,
    subscription: string,
    hops: number,
    message: Uint8Array,
  ): void {
    const head = new FieldWriter().str(clientId).str(subscription).u8(hops).u32(message.length)
      .finish();
    this.#sendTo(node, Frame.SharedDeliver, [head, message]);
  }

  /** A retained write made on this node, for every other node's copy. */
  retain(topic: string, message: Uint8Array): void {
    // A local write is this node's newest word on the topic: sent whatever a tombstone says.
    this.#tombstones.admit(topic, message);
    this.#broadcast(Frame.Retain, [
      new FieldWriter().str(topic).u32(message.length).finish(),
      message,
    ]);
  }

  /** A client connected here: other nodes end their connection of the same id (0x8E). */
  clientOpened(clientId: string): void {
    if (this.#links.size > 0) this.#broadcast(Frame.ClientOpen, [str(clientId)]);
  }

  /**
   * A shard asks for a client's session (clean_start = false, none here): every peer is asked
   * (TAKEOVER_BEGIN), the one that has it ends the connection (0x8E) and sends it; the shard gets
   * the answer ("" for none) and the node that sent it when all replied, or at
   * cluster.takeover_timeout with what came.
   */
  takeover(shard: number, requestId: number, clientId: string): void {
    const peers = [...this.#links.values()];
    this.#ask(shard, requestId, peers, "TAKEOVER_BEGIN", clientId, (key) => {
      const frame = new FieldWriter().u32(key).str(clientId).finish();
      for (const link of peers) link.send(Frame.TakeoverBegin, [frame]);
    });
  }

  /**
   * The shard has imported the session from `node` and subscribed it (its route records came
   * before this one, so they are on every link already): TAKEOVER_FENCE to every other peer,
   * then TAKEOVER_END to `node`, naming those peers (takeover_fence.ts). The shard gets the
   * pendings ("" for none), or "" at cluster.takeover_timeout or when the link goes down.
   */
  takeoverEnd(shard: number, requestId: number, node: string, clientId: string): void {
    const link = this.#links.get(node);
    this.#ask(shard, requestId, link ? [link] : [], "TAKEOVER_END", clientId, (key) => {
      const others = [...this.#links.values()].filter((l) => l !== link && l.peer !== null);
      const fence = new FieldWriter().u32(key).str(node).finish();
      for (const l of others) l.send(Frame.TakeoverFence, [fence]);
      const w = new FieldWriter().u32(key).str(clientId).u32(others.length);
      for (const l of others) w.str(l.peer!);
      link!.send(Frame.TakeoverEnd, [w.finish()]);
    });
  }

  #ask(
    shard: number,
    requestId: number,
    peers: PeerLink[],
    step: string,
    clientId: string,
    send: (key: number) => void,
  ): void {
    const done = (body: string, from: string) => {
      const payload = new FieldWriter().u32(requestId).str(body).str(from).finish();
      this.#host.toShard(shard, RecordKind.TakeoverAnswer, [payload]);
    };
    if (peers.length === 0) return done("", "");
    const key = this.#nextTakeover;
    this.#nextTakeover = key >= 0xffff_fffe ? 1 : key + 1;
    const timer = setTimeout(() => {
      log.warning("Cluster: {step} of {clientId} timed out; going on with what came", {
        step,
        clientId,
      });
      this.#finishTakeover(key);
    }, this.#config.cluster.takeoverTimeout);
    this.#takeovers.set(key, { waiting: new Set(peers), body: "", from: "", timer, done });
    send(key);
  }

  #takeoverReply(link: PeerLink, key: number, body: string): void {
    const t = this.#takeovers.get(key);
    if (!t || !t.waiting.delete(link)) return;
    if (body !== "") {
      t.body = body;
      t.from = link.peer ?? "";
    }
    if (t.waiting.size === 0) this.#finishTakeover(key);
  }

  #finishTakeover(key: number): void {
    const t = this.#takeovers.get(key);
    if (!t) return;
    this.#takeovers.delete(key);
    clearTimeout(t.timer);
    t.done(t.body, t.from);
  }

  /**
   * A peer asks for a session of this node (BEGIN: its shard ends the client and exports it) or
   * for its pendings (END: the shard hands them over and forgets the session).
   */
  #takeoverAsked(link: PeerLink, key: number, clientId: string, end: boolean): void {
    const reply = (body: string) => {
      const frame = end ? Frame.TakeoverPendings : Frame.TakeoverReply;
      link.send(frame, [new FieldWriter().u32(key).str(body).finish()]);
    };
    const method = end ? "clients.takeover_end" : "clients.takeover";
    const params = { clientid: clientId, node: link.peer ?? "" };
    this.#host.request(this.#host.shardOf(clientId), method, params)
      .then((moved) => reply(moved === null ? "" : JSON.stringify(moved)))
      .catch((err) => {
        log.warning("Cluster: {method} of {clientId} failed: {error}", {
          method,
          clientId,
          error: err instanceof Error ? err.message : String(err),
        });
        reply("");
      });
  }

  // Links ------------------------------------------------------------------------------------

  #events: LinkEvents = {
    up: (link) => this.#linkUp(link),
    frame: (link, type, payload) => this.#onFrame(link, type, payload),
    down: (link, reason, refused) => this.#linkDown(link, reason, refused),
    drained: (link) => this.#drained(link),
  };

  #accepted(socket: Socket): void {
    if (this.#stopped) {
      socket.destroy();
      return;
    }
    const tls = this.#host.tls;
    if (!tls) {
      this.#pending.add(new PeerLink(socket, false, this.#id, this.#events));
      return;
    }
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    tls.accept(socket, (secured, why) => {
      if (secured && !this.#stopped) {
        this.#pending.add(new PeerLink(secured, false, this.#id, this.#events));
        return;
      }
      secured?.destroy();
      socket.destroy();
      // Once per address, reason and minute: a redialling peer does not flood the log.
      const key = `tls ${remote.replace(/:\d+$/, "")} ${why}`;
      const at = this.#refusalLogged.get(key) ?? -Infinity;
      if (secured === null && Date.now() - at >= REFUSAL_LOG_MS) {
        this.#refusalLogged.set(key, Date.now());
        log.warning("Cluster: refused the link from {remote}: {why}", { remote, why });
      }
    });
  }

  #dial(d: Dial): void {
    if (this.#stopped || d.self || !d.wanted || d.link) return;
    // A link to the named node may already exist (the peer dialled us first).
    if (d.target.name && this.#links.has(d.target.name)) return;
    const [host, port] = splitAddress(d.target.address);
    const socket = this.#host.tls ? this.#host.tls.connect(host, port) : connect({ host, port });
    const link = new PeerLink(socket, true, this.#id, this.#events);
    d.link = link;
    this.#pending.add(link);
  }

  #redial(d: Dial): void {
    if (this.#stopped || d.self || !d.wanted) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** d.attempt);
    d.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(d.timer);
    d.timer = setTimeout(() => this.#dial(d), delay);
  }

  #dialOf(link: PeerLink): Dial | undefined {
    for (const d of this.#dials.values()) if (d.link === link) return d;
    return undefined;
  }

  #linkUp(link: PeerLink): void {
    this.#pending.delete(link);
    const peer = link.peer!;
    if (peer === this.node) {
      const d = this.#dialOf(link);
      if (d) d.self = true; // DNS and etcd list this node too
      link.close("a link to itself");
      return;
    }
    const old = this.#links.get(peer);
    if (old) {
      // Both nodes dialled: keep the link dialled by the smaller name, on both sides alike.
      const dialer = (l: PeerLink) => (l.dialled ? this.node : peer);
      const smaller = this.node < peer ? this.node : peer;
      const keepNew = dialer(link) === smaller && dialer(old) !== smaller;
      if (!keepNew && dialer(old) === smaller) {
        link.close("a second link to the same node");
        return;
      }
      this.#links.delete(peer);
      old.close("replaced by a newer link");
    }
    this.#links.set(peer, link);
    const d = this.#dialOf(link);
    if (d) d.attempt = 0;
    const wasDown = this.#down.get(peer);
    if (wasDown !== undefined) clearTimeout(wasDown);
    this.#down.delete(peer);
    log.info("Cluster: node {peer} is up ({way} {remote})", {
      peer,
      way: link.dialled ? "dialled" : "accepted from",
      remote: link.remote,
    });
    // The full set on every link up: the peer may have restarted or healed from a split.
    link.send(Frame.RoutesReset, []);
    for (const batch of batches(this.state.localFilters())) {
      link.send(Frame.RouteAdd, [routeFrame(batch)]);
    }
    for (const m of this.state.localMembers()) link.send(Frame.SharedAdd, [sharedFields(m)]);
    link.send(Frame.RoutesEnd, []);
    link.send(Frame.Members, [this.#membersFrame()]);
    void sendRetainedSet(link, this.#host, this.#tombstones);
    void sendConnected(link, this.#host);
  }

  /**
   * A peer's connected clients are all in: a client id connected on both sides stays with the
   * newest connection; this node ends its own older ones (0x8E, session discarded).
   */
  async #clientsEnd(link: PeerLink): Promise<void> {
    const remote = this.#peerClients.get(link) ?? new Map<string, number>();
    this.#peerClients.delete(link);
    if (remote.size === 0) return;
    const local = await connectedClients(this.#host);
    const peer = link.peer ?? "";
    for (const id of olderHere(local, remote, this.node, peer)) {
      log.info("Cluster: {clientId} is connected on {peer} too, more recently: ended here", {
        clientId: id,
        peer,
      });
      this.state.clientOpenedElsewhere(id);
    }
  }

  #linkDown(link: PeerLink, reason: string, refused: boolean): void {
    if (link.peer !== null) this.#fences.linkDown(link.peer);
    this.#pending.delete(link);
    this.#peerClients.delete(link);
    this.#rpc.linkDown(link);
    for (const [key, t] of [...this.#takeovers]) {
      if (t.waiting.delete(link) && t.waiting.size === 0) this.#finishTakeover(key);
    }
    this.#drained(link);
    const d = this.#dialOf(link);
    if (d) {
      d.link = null;
      this.#lastFailure.set(d.target.address, reason);
    }
    const peer = link.peer;
    if (refused) {
      const key = link.dialled
        ? (d?.target.address ?? link.remote)
        : link.remote.replace(/:\d+$/, "");
      const at = this.#refusalLogged.get(key) ?? -Infinity;
      if (Date.now() - at >= REFUSAL_LOG_MS) {
        this.#refusalLogged.set(key, Date.now());
        log.warning("Cluster: refused the link {way} {remote} ({peer}): {reason}", {
          way: link.dialled ? "to" : "from",
          remote: link.remote,
          peer: peer ?? "?",
          reason,
        });
      }
    }
    if (peer && this.#links.get(peer) === link) {
      this.#links.delete(peer);
      if (!this.#stopped) {
        log.warning("Cluster: node {peer} is down: {reason}", { peer, reason });
        // Its routes stay for autoclean: a quick restart does not churn every route.
        this.#down.set(
          peer,
          setTimeout(() => {
            this.#down.delete(peer);
            log.info("Cluster: node {peer} cleaned after autoclean", { peer });
            this.state.dropNode(peer);
          }, this.#config.cluster.autoclean),
        );
      }
    }
    if (d && !d.self) {
      if (!d.wanted) this.#dials.delete(d.target.address);
      else this.#redial(d);
    }
  }

  #drained(link: PeerLink): void {
    if (!this.#congested.delete(link)) return;
    if (this.#congested.size === 0) this.#host.pauseClients(false);
  }

  #sendTo(node: string, type: number, parts: readonly Uint8Array[]): void {
    const link = this.#links.get(node);
    if (!link) {
      this.droppedNodeDown++;
      const now = Date.now();
      if (now - this.#dropLoggedAt >= 10_000) {
        this.#dropLoggedAt = now;
        log.warning("Cluster: node {node} is down, {count} messages for it dropped so far", {
          node,
          count: this.droppedNodeDown,
        });
      }
      return;
    }
    link.send(type, parts);
    this.#checkQueue(link);
  }

  #broadcast(type: number, parts: readonly Uint8Array[]): void {
    for (const link of this.#links.values()) {
      link.send(type, parts);
      this.#checkQueue(link);
    }
  }

  /** A link over max_send_queue stops this node's clients until the socket drains. */
  #checkQueue(link: PeerLink): void {
    if (link.queued <= this.#config.cluster.maxSendQueue || this.#congested.has(link)) return;
    if (this.#congested.size === 0) this.#host.pauseClients(true);
    this.#congested.add(link);
  }

  #onFrame(link: PeerLink, type: number, payload: Uint8Array): void {
    const peer = link.peer!;
    try {
      const r = new FieldReader(payload);
      switch (type) {
        case Frame.RoutesReset:
          this.state.resetNode(peer);
          this.#resyncFrom.set(peer, performance.now());
          return;
        case Frame.RoutesEnd: {
          const began = this.#resyncFrom.get(peer) ?? performance.now();
          this.#resyncFrom.delete(peer);
          // Exact text: operators (and bench/cluster_bench.ts) read how long a full set took.
          log.info(
            `Cluster: full route set of ${peer} received: ${this.state.routeCount(peer)} ` +
              `routes in ${(performance.now() - began).toFixed(1)} ms`,
          );
          return;
        }
        case Frame.RouteAdd:
        case Frame.RouteDel: {
          const filters: string[] = [];
          for (let n = r.u32(); n > 0; n--) filters.push(r.str());
          this.state.remoteRoutes(peer, type === Frame.RouteAdd, filters);
          return;
        }
        case Frame.SharedAdd:
        case Frame.SharedDel: {
          const m = { group: r.str(), filter: r.str(), clientId: r.str(), subscription: r.str() };
          this.state.remoteShared(peer, type === Frame.SharedAdd, m);
          return;
        }
        case Frame.Publish:
          this.state.deliver(r.str(), r.bytes());
          return;
        case Frame.SharedDeliver:
          this.state.deliverShared(r.str(), r.str(), r.u8(), r.bytes());
          return;
        case Frame.Retain: {
          const topic = r.str();
          const message = r.bytes();
          // Older than a clear remembered here: it would bring a deleted message back.
          if (this.#tombstones.admit(topic, message)) this.state.retain(topic, message);
          return;
        }
        case Frame.ClientsFull: {
          let clients = this.#peerClients.get(link);
          if (!clients) this.#peerClients.set(link, clients = new Map());
          for (let n = r.u32(); n > 0; n--) {
            const id = r.str();
            clients.set(id, r.f64());
          }
          return;
        }
        case Frame.ClientsEnd:
          this.#clientsEnd(link).catch((err) =>
            log.warning("Cluster: comparing the clients of {peer} failed: {error}", {
              peer,
              error: err instanceof Error ? err.message : String(err),
            })
          );
          return;
        case Frame.ClientOpen:
          this.state.clientOpenedElsewhere(r.str());
          return;
        case Frame.TakeoverBegin: {
          const key = r.u32();
          this.#takeoverAsked(link, key, r.str(), false);
          return;
        }
        case Frame.TakeoverEnd: {
          const key = r.u32();
          const clientId = r.str();
          const fenced: string[] = [];
          for (let n = r.u32(); n > 0; n--) fenced.push(r.str());
          // Peers not linked here forward nothing here: not waited for.
          const linked = fenced.filter((p) => this.#links.get(p)?.isUp);
          const wait = Math.floor(this.#config.cluster.takeoverTimeout / 2);
          this.#fences.wait(peer, key, linked, wait, () => {
            // The asking node went away meanwhile: the pendings would be lost on the way; the
            // session stays moving here until it times out into an offline session.
            if (link.isUp) this.#takeoverAsked(link, key, clientId, true);
          });
          return;
        }
        case Frame.TakeoverFence: {
          const key = r.u32();
          const oldNode = r.str();
          void this.#fences.pass().catch(() => {}).then(() => {
            const frame = new FieldWriter().u32(key).str(peer).finish();
            this.#links.get(oldNode)?.send(Frame.TakeoverFenced, [frame]);
          });
          return;
        }
        case Frame.TakeoverFenced: {
          const key = r.u32();
          this.#fences.fenced(r.str(), key, peer);
          return;
        }
        case Frame.TakeoverReply:
        case Frame.TakeoverPendings: {
          const key = r.u32();
          this.#takeoverReply(link, key, r.str());
          return;
        }
        case Frame.Members: {
          const members: Target[] = [];
          for (let n = r.u32(); n > 0; n--) members.push({ name: r.str(), address: r.str() });
          this.#members(link, members);
          return;
        }
        case Frame.Leave:
          log.info("Cluster: node {peer} leaves the cluster", { peer });
          this.#forgetLocally(peer);
          return;
        case Frame.Forget: {
          const node = r.str();
          log.info("Cluster: {peer} asks to forget {node}", { peer, node });
          if (node === this.node) this.leave();
          else this.#forgetLocally(node);
          return;
        }
        case Frame.Request: {
          const id = r.u32();
          const method = r.str();
          this.#rpc.answer(link, id, method, r.str(), (m, p) => this.#host.serve(m, p));
          return;
        }
        case Frame.Reply: {
          const id = r.u32();
          const ok = r.u8() === 1;
          this.#rpc.replied(link, id, ok, r.str());
          return;
        }
        default:
          link.close(`unknown frame type ${type}`);
      }
    } catch (err) {
      link.close(`bad frame ${type}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function str(s: string): Uint8Array {
  return new FieldWriter().str(s).finish();
}

/** RouteAdd / RouteDel payload: count, then the filters. */
function routeFrame(filters: readonly string[]): Uint8Array {
  const w = new FieldWriter().u32(filters.length);
  for (const f of filters) w.str(f);
  return w.finish();
}

function sharedFields(m: SharedKey): Uint8Array {
  return new FieldWriter().str(m.group).str(m.filter).str(m.clientId).str(m.subscription).finish();
}

/** "host:port" or "[v6]:port" → [host, port]. */
export function splitAddress(address: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) throw new TypeError(`not an address "host:port": ${address}`);
  return [m[1] ?? m[2] ?? "", Number(m[3])];
}
