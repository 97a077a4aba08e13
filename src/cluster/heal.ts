/**
 * What makes a netsplit heal come out right (docs/cluster.md, "Netsplit"). RetainTombstones:
 * a cleared retained topic is remembered (the clear's bytes and publish time) for
 * `cluster.retain_tombstone_ttl`, so an older copy that a peer sends after a split is refused,
 * and the clear itself is sent again on every link up. The client registry exchange: on every
 * link up each node sends its connected clients with their connect times; a client id connected
 * on both sides stays on the side with the newest connection (ties: the greater node name), and
 * the other side ends its own (0x8E). Owned by the Cluster; reads the shards only through the
 * ClusterHost.
 */

import { getLogger } from "@logtape/logtape";
import { decodeBase64 } from "../bytes.ts";
import { FieldWriter } from "../ipc/mod.ts";
import { decodeMessage, encodeMessage } from "../mqtt/mod.ts";
import type { ClusterHost } from "./host.ts";
import type { PeerLink } from "./peer_link.ts";
import { Frame } from "./proto_v1.ts";

const log = getLogger(["culex", "cluster"]);

/** Connected clients asked from a shard per request, and sent per ClientsFull frame. */
const CLIENTS_PAGE = 1_000;
/** Retained messages asked from a shard per request when a link comes up. */
const RETAINED_PAGE = 500;

/** See the file header. */
export class RetainTombstones {
  readonly #ttl: number;
  readonly #max: number;
  /** topic → the clear (insertion order: oldest first). */
  readonly #clears = new Map<string, { at: number; bytes: Uint8Array; kept: number }>();
  /** Older copies refused so far. */
  refused = 0;

  /** Called after every change of the remembered clears (TombstoneFile keeps them on disc). */
  onChange: (() => void) | null = null;

  constructor(ttlMs: number, max: number) {
    this.#ttl = ttlMs;
    this.#max = max;
  }

  /**
   * A clear kept by an earlier run (TombstoneFile): `at` its publish time, `kept` when it was
   * first remembered (the TTL counts from then). Expired ones are ignored.
   */
  restore(topic: string, at: number, kept: number): void {
    if (this.#max === 0 || !this.#fresh(kept)) return;
    const held = this.#clears.get(topic);
    if (held && held.at >= at) return;
    this.#clears.set(topic, { at, bytes: retainClear(topic, at), kept });
    this.#trim();
  }

  /** The remembered clears as [topic, publish time, kept since] (for TombstoneFile). */
  *entries(): Generator<[string, number, number]> {
    for (const [topic, c] of this.#clears) if (this.#fresh(c.kept)) yield [topic, c.at, c.kept];
  }

  /**
   * A retained write made here or received from a peer; false when it is older than a clear
   * of the same topic remembered here (the caller drops it). A clear is remembered.
   */
  admit(topic: string, message: Uint8Array): boolean {
    const m = decodeMessage(message);
    const clear = this.#clears.get(topic);
    if (m.payload.byteLength > 0) {
      if (clear && clear.at >= m.timestamp && this.#fresh(clear.kept)) {
        this.refused++;
        return false;
      }
      return true;
    }
    if (this.#max === 0 || this.#ttl === 0) return true;
    if (clear && clear.at > m.timestamp) return true; // a newer clear is already kept
    this.#clears.delete(topic);
    this.#clears.set(topic, { at: m.timestamp, bytes: message.slice(), kept: Date.now() });
    this.#trim();
    this.onChange?.();
    return true;
  }

  #trim(): void {
    while (this.#clears.size > this.#max) {
      const oldest = this.#clears.keys().next().value;
      if (oldest === undefined) break;
      this.#clears.delete(oldest);
    }
  }

  /** The clears still remembered, to send on a link up: [topic, message bytes]. */
  *clears(): Generator<[string, Uint8Array]> {
    for (const [topic, c] of [...this.#clears]) {
      if (!this.#fresh(c.kept)) this.#clears.delete(topic);
      else yield [topic, c.bytes];
    }
  }

  get size(): number {
    return this.#clears.size;
  }

  #fresh(kept: number): boolean {
    return Date.now() - kept < this.#ttl;
  }
}

/**
 * A clear of `topic`'s retained message published at `at` (epoch ms), as the other nodes take a
 * client's empty retained PUBLISH: for deletes made through the API or `ctl retainer clean`, and
 * for clears restored from disc (the receivers read only the topic, the empty payload and the
 * time).
 */
export function retainClear(topic: string, at: number): Uint8Array {
  return encodeMessage({
    topic,
    payload: new Uint8Array(0),
    qos: 0,
    retain: true,
    properties: {},
    origin: "",
    expiresAt: 0,
    timestamp: at,
  });
}

/** This node's connected clients: client id → connected_at (epoch ms). */
export async function connectedClients(host: ClusterHost): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let shard = 0; shard < host.shardCount; shard++) {
    for (let offset = 0;;) {
      const params = { filter: { conn_state: "connected" }, offset, limit: CLIENTS_PAGE };
      const page = await host.request(shard, "clients.list", params) as {
        total: number;
        items: { clientid?: unknown; connected_at?: unknown }[];
      };
      for (const c of page.items) {
        const at = typeof c.connected_at === "string" ? Date.parse(c.connected_at) : NaN;
        if (typeof c.clientid === "string" && !Number.isNaN(at)) out.set(c.clientid, at);
      }
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.total) break;
    }
  }
  return out;
}

/**
 * The client ids this node must end: connected here and on `peer`, where the peer's connection
 * is newer (equal times: the greater node name keeps it). Both sides compute the same answer,
 * so exactly one side ends each duplicate.
 */
export function olderHere(
  local: ReadonlyMap<string, number>,
  remote: ReadonlyMap<string, number>,
  self: string,
  peer: string,
): string[] {
  const out: string[] = [];
  for (const [id, remoteAt] of remote) {
    const localAt = local.get(id);
    if (localAt === undefined) continue;
    if (localAt < remoteAt || (localAt === remoteAt && self < peer)) out.push(id);
  }
  return out;
}

function retainFrame(topic: string, message: Uint8Array): Uint8Array[] {
  return [new FieldWriter().str(topic).u32(message.length).finish(), message];
}

/**
 * Every retained message of this node, then every clear still remembered, to a peer that just
 * linked (it may have restarted or been cut off), a page per request; the receiver keeps the
 * newer of two writes.
 */
export async function sendRetainedSet(
  link: PeerLink,
  host: ClusterHost,
  tombstones: RetainTombstones,
): Promise<void> {
  let sent = 0;
  try {
    for await (const page of host.retainedPages?.() ?? []) {
      if (!link.isUp) break;
      for (const [topic, message] of page) link.send(Frame.Retain, retainFrame(topic, message));
      sent += page.length;
    }
    for (let shard = 0; shard < host.shardCount && !host.retainedPages; shard++) {
      for (let offset = 0; link.isUp;) {
        const params = { offset, limit: RETAINED_PAGE };
        const page = await host.request(shard, "retained.export", params) as {
          total: number;
          items: [string, string][];
        };
        for (const [topic, b64] of page.items) {
          link.send(Frame.Retain, retainFrame(topic, decodeBase64(b64)));
          sent++;
        }
        offset += page.items.length;
        if (page.items.length === 0 || offset >= page.total) break;
      }
    }
    // The clears too: the peer may hold an older copy from before a split.
    let clears = 0;
    for (const [topic, message] of tombstones.clears()) {
      link.send(Frame.Retain, retainFrame(topic, message));
      clears++;
    }
    if (sent + clears > 0) {
      // Exact text: tests read it.
      log.info(
        `Cluster: sent ${sent} retained messages and ${clears} clears to ${link.peer ?? "?"}`,
      );
    }
  } catch (err) {
    log.warning("Cluster: retained messages for {peer} not all sent: {error}", {
      peer: link.peer,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/** This node's connected clients with their connect times, to a peer that just linked. */
export async function sendConnected(link: PeerLink, host: ClusterHost): Promise<void> {
  try {
    const clients = [...await connectedClients(host)];
    for (let i = 0; i < clients.length; i += CLIENTS_PAGE) {
      const batch = clients.slice(i, i + CLIENTS_PAGE);
      const w = new FieldWriter().u32(batch.length);
      for (const [id, at] of batch) w.str(id).f64(at);
      link.send(Frame.ClientsFull, [w.finish()]);
    }
    link.send(Frame.ClientsEnd, []);
  } catch (err) {
    log.warning("Cluster: the connected clients for {peer} not all sent: {error}", {
      peer: link.peer,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
