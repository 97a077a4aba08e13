/**
 * NodeRpc: questions to other nodes over the node links (Request/Reply frames of proto_v1.ts),
 * for the HTTP API and `ctl` (GET /nodes, /clients across nodes, /stats?aggregate). Each
 * request has an id and a timeout; a link that goes down fails its pending requests at once, so
 * a dead node gives an error to report, never a hang. Bounded: at most MAX_PENDING requests wait
 * at once per node (more fail at once). Owns the pending requests; PeerLink carries the frames,
 * the ClusterHost answers what peers ask.
 */

import { FieldWriter } from "../ipc/mod.ts";
import { Frame } from "./proto_v1.ts";

/** What NodeRpc needs of a link (PeerLink has it). */
export interface RpcLink {
  /** The peer's node name once known. */
  readonly peer: string | null;
  /** Sends one frame; false when the link is closed. */
  send(type: number, parts: readonly Uint8Array[]): boolean;
}

/** Requests waiting for replies at once, per node. */
export const MAX_PENDING = 256;

/** A JSON object as the nodes exchange it. */
export type Json = Record<string, unknown>;

/** The questions one node may ask another, with their parameters and answers. */
export interface NodeMethods {
  /** The node as GET /nodes shows it. */
  "node.info": { params: Json; result: Json };
  /** EMQX's stats of the node (connections.count, ...). */
  "node.stats": { params: Json; result: Record<string, number> };
  /** EMQX's metrics of the node. */
  "node.metrics": { params: Json; result: Record<string, number> };
  /** A slice of the node's clients, GET /clients's filter applied: the total and the items. */
  "clients.slice": {
    params: { filter: Json; offset: number; limit: number };
    result: { total: number; items: Json[] };
  };
  /** A slice of the node's subscriptions, GET /subscriptions's filter applied. */
  "subscriptions.slice": {
    params: { filter: Json; offset: number; limit: number };
    result: { total: number; items: Json[] };
  };
  /** One client of the node (src/api/client_ops.ts), or null when it has no such session. */
  "client.get": { params: { clientid: string }; result: Json | null };
  /** Kicks the node's client; false when it has none of that id. */
  "client.kick": { params: { clientid: string }; result: boolean };
  /** The subscriptions of the node's client, or null. */
  "client.subscriptions": { params: { clientid: string }; result: Json[] | null };
  /** Subscribes the node's client; the granted QoS per filter, or null. */
  "client.subscribe": {
    params: { clientid: string; subscriptions: Json[] };
    result: number[] | null;
  };
  /** Unsubscribes the node's client; a reason code per filter, or null. */
  "client.unsubscribe": { params: { clientid: string; topics: string[] }; result: number[] | null };
}

/** A method name of NodeMethods. */
export type NodeMethod = keyof NodeMethods;

/** Why a request to a node failed (down, timed out, or the node answered an error). */
export class NodeRequestError extends Error {
  constructor(readonly node: string, why: string) {
    super(`node ${node}: ${why}`);
    this.name = "NodeRequestError";
  }
}

interface Pending {
  readonly link: RpcLink;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** See the file header. */
export class NodeRpc {
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Asks `link`'s node; rejects with NodeRequestError on timeout, link down or error answer. */
  ask<M extends NodeMethod>(
    link: RpcLink,
    method: M,
    params: NodeMethods[M]["params"],
  ): Promise<NodeMethods[M]["result"]> {
    const node = link.peer ?? "?";
    let waiting = 0;
    for (const p of this.#pending.values()) if (p.link === link) waiting++;
    if (waiting >= MAX_PENDING) {
      return Promise.reject(new NodeRequestError(node, `${MAX_PENDING} requests already wait`));
    }
    const id = this.#next;
    this.#next = id >= 0xffff_fffe ? 1 : id + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new NodeRequestError(node, `no answer to ${method} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(id, {
        link,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
      });
      const frame = new FieldWriter().u32(id).str(method).str(JSON.stringify(params)).finish();
      if (!link.send(Frame.Request, [frame])) this.#fail(id, "the link is down");
    });
  }

  /** A Reply frame arrived on `link`. */
  replied(link: RpcLink, id: number, ok: boolean, body: string): void {
    const p = this.#pending.get(id);
    if (!p || p.link !== link) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (!ok) {
      p.reject(new NodeRequestError(link.peer ?? "?", body));
      return;
    }
    try {
      p.resolve(JSON.parse(body));
    } catch {
      p.reject(new NodeRequestError(link.peer ?? "?", "an answer that is not JSON"));
    }
  }

  /** `link` went down: its requests fail now rather than at their timeout. */
  linkDown(link: RpcLink): void {
    for (const [id, p] of [...this.#pending]) {
      if (p.link === link) this.#fail(id, "the link is down");
    }
  }

  /**
   * A Request frame arrived: `serve` answers it (its rejection becomes an error Reply); the
   * Reply goes back on `link` if it is still up.
   */
  answer(
    link: RpcLink,
    id: number,
    method: string,
    params: string,
    serve: (method: string, params: unknown) => Promise<unknown>,
  ): void {
    const reply = (ok: boolean, body: string) =>
      link.send(Frame.Reply, [new FieldWriter().u32(id).u8(ok ? 1 : 0).str(body).finish()]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(params);
    } catch {
      reply(false, "params that are not JSON");
      return;
    }
    serve(method, parsed).then(
      (result) => reply(true, JSON.stringify(result ?? null)),
      (err) => reply(false, err instanceof Error ? err.message : String(err)),
    );
  }

  #fail(id: number, why: string): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.reject(new NodeRequestError(p.link.peer ?? "?", why));
  }
}
