/**
 * Takeovers: a session moving between nodes, both sides (docs/cluster.md, "Sessions across
 * nodes"). The new node's side: TAKEOVER_BEGIN to the nodes that may hold the session, the
 * replies gathered until all came or `cluster.takeover_timeout`; then TAKEOVER_FENCE to every
 * other peer and TAKEOVER_END to the old node for the pendings. The old node's side: BEGIN and
 * END become control requests to the shard of the client id, FENCE and FENCED go through the
 * TakeoverFences barrier. The answers reach the asking shard as TakeoverAnswer records.
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { type FieldReader, FieldWriter, RecordKind } from "../ipc/mod.ts";
import type { ClusterHost } from "./host.ts";
import type { Links } from "./links.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";
import { TakeoverFences } from "./takeover_fence.ts";

const log = getLogger(["culex", "cluster"]);

interface Takeover {
  readonly waiting: Set<PeerLink>;
  body: string;
  /** The node whose reply carried the body. */
  from: string;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly done: (body: string, from: string) => void;
}

/** See the file header. */
export class Takeovers {
  readonly #config: Config;
  readonly #host: ClusterHost;
  readonly #links: Links;
  /** TAKEOVER_END's barrier (takeover_fence.ts). */
  readonly #fences: TakeoverFences;
  /** Takeovers this node asked for, waiting for the peers' replies. */
  readonly #takeovers = new Map<number, Takeover>();
  #nextTakeover = 1;
  /**
   * Lookups whose named node had no session, so the other peers were asked (metric
   * `cluster.session_lookup.owner_fallback`).
   */
  ownerFallbacks = 0;

  constructor(config: Config, host: ClusterHost, links: Links) {
    this.#config = config;
    this.#host = host;
    this.#links = links;
    this.#fences = new TakeoverFences(host);
  }

  stop(): void {
    this.#fences.stop();
  }

  /**
   * A shard asks for a client's session (clean_start = false, none here): each of `peers` is
   * asked (TAKEOVER_BEGIN), the one that has it ends the connection (0x8E) and sends it; the
   * shard gets the answer ("" for none) and the node that sent it when all replied, or at
   * cluster.takeover_timeout with what came. When none of `peers` had it, `then` is asked the
   * same way (the registry named a node the session had just left).
   */
  begin(
    shard: number,
    requestId: number,
    clientId: string,
    peers: PeerLink[],
    then: PeerLink[] = [],
  ): void {
    const answer = answerTo(this.#host, shard, requestId);
    const done = then.length === 0 ? answer : (body: string, from: string) => {
      if (body !== "") return answer(body, from);
      this.ownerFallbacks++;
      log.debug("Cluster: the named node had no session of {clientId}: asking the others", {
        clientId,
      });
      this.begin(shard, requestId, clientId, then.filter((l) => l.isUp));
    };
    this.#ask(peers, "TAKEOVER_BEGIN", clientId, done, (key) => {
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
  end(shard: number, requestId: number, node: string, clientId: string): void {
    const link = this.#links.get(node);
    const done = answerTo(this.#host, shard, requestId);
    this.#ask(link ? [link] : [], "TAKEOVER_END", clientId, done, (key) => {
      const others = [...this.#links.linked.values()].filter((l) => l !== link && l.peer !== null);
      const fence = new FieldWriter().u32(key).str(node).finish();
      for (const l of others) l.send(Frame.TakeoverFence, [fence]);
      const w = new FieldWriter().u32(key).str(clientId).u32(others.length);
      for (const l of others) w.str(l.peer!);
      link!.send(Frame.TakeoverEnd, [w.finish()]);
    });
  }

  /** A link closed: its peer answers nothing more. */
  linkDown(link: PeerLink): void {
    if (link.peer !== null) this.#fences.linkDown(link.peer);
    for (const [key, t] of [...this.#takeovers]) {
      if (t.waiting.delete(link) && t.waiting.size === 0) this.#finish(key);
    }
  }

  /** Handles a takeover frame; false when `type` is not one. */
  frame(link: PeerLink, type: number, r: FieldReader): boolean {
    const peer = link.peer!;
    switch (type) {
      case Frame.TakeoverBegin: {
        const key = r.u32();
        const clientId = r.str();
        // Exact text: tests count the nodes asked (only the registry's owner, docs/cluster.md).
        log.debug("Cluster: {peer} asks for the session of {clientId}", { peer, clientId });
        this.#asked(link, key, clientId, false);
        return true;
      }
      case Frame.TakeoverEnd: {
        const key = r.u32();
        const clientId = r.str();
        const fenced: string[] = [];
        for (let n = r.u32(); n > 0; n--) fenced.push(r.str());
        // Peers not linked here forward nothing here: not waited for.
        const linked = fenced.filter((p) => this.#links.get(p)?.isUp);
        const wait = Math.floor(this.#config.cluster.takeoverTimeout / 2);
        // Exact text: tests wait for it (the END is here, the pendings wait for the fences).
        log.debug("Cluster: {peer} ends the move of {clientId} after {n} fence(s)", {
          peer,
          clientId,
          n: linked.length,
        });
        this.#fences.wait(peer, key, linked, wait, () => {
          // The asking node went away meanwhile: the pendings would be lost on the way; the
          // session stays moving here until it times out into an offline session.
          if (link.isUp) this.#asked(link, key, clientId, true);
        });
        return true;
      }
      case Frame.TakeoverFence: {
        const key = r.u32();
        const oldNode = r.str();
        void this.#fences.pass().catch(() => {}).then(() => {
          const frame = new FieldWriter().u32(key).str(peer).finish();
          this.#links.get(oldNode)?.send(Frame.TakeoverFenced, [frame]);
        });
        return true;
      }
      case Frame.TakeoverFenced: {
        const key = r.u32();
        this.#fences.fenced(r.str(), key, peer);
        return true;
      }
      case Frame.TakeoverReply:
      case Frame.TakeoverPendings: {
        const key = r.u32();
        this.#replied(link, key, r.str());
        return true;
      }
      default:
        return false;
    }
  }

  #ask(
    peers: PeerLink[],
    step: string,
    clientId: string,
    done: (body: string, from: string) => void,
    send: (key: number) => void,
  ): void {
    if (peers.length === 0) return done("", "");
    const key = this.#nextTakeover;
    this.#nextTakeover = key >= 0xffff_fffe ? 1 : key + 1;
    const timer = setTimeout(() => {
      log.warning("Cluster: {step} of {clientId} timed out; going on with what came", {
        step,
        clientId,
      });
      this.#finish(key);
    }, this.#config.cluster.takeoverTimeout);
    this.#takeovers.set(key, { waiting: new Set(peers), body: "", from: "", timer, done });
    send(key);
  }

  #replied(link: PeerLink, key: number, body: string): void {
    const t = this.#takeovers.get(key);
    if (!t || !t.waiting.delete(link)) return;
    if (body !== "") {
      t.body = body;
      t.from = link.peer ?? "";
    }
    if (t.waiting.size === 0) this.#finish(key);
  }

  #finish(key: number): void {
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
  #asked(link: PeerLink, key: number, clientId: string, end: boolean): void {
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
}

/** Hands a takeover step's answer to the asking shard (a TakeoverAnswer record). */
function answerTo(
  host: ClusterHost,
  shard: number,
  requestId: number,
): (body: string, from: string) => void {
  return (body, from) => {
    const payload = new FieldWriter().u32(requestId).str(body).str(from).finish();
    host.toShard(shard, RecordKind.TakeoverAnswer, [payload]);
  };
}
