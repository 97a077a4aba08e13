/**
 * mcast discovery (`cluster.discovery_strategy: mcast`, EMQX 4.x's `cluster.mcast.*` keys; EMQX
 * 5 dropped it, Culex keeps it for LAN gateways): every `discovery_interval` the node sends an
 * announcement (its cluster name, node name and cluster address) to `cluster.mcast.addr` on each
 * of `cluster.mcast.ports`, signed with HMAC-SHA256 under a key derived from `node.cookie`; it
 * listens on the first port it can bind (shared with other nodes on the host: SO_REUSEADDR).
 * Unsigned, wrongly signed or stale announcements are ignored and logged once per sender and
 * reason; a signed one of another cluster is ignored quietly. The signature only keeps strangers
 * from steering the dials: the links' cookie handshake still decides membership. Owns its UDP
 * socket and timer; proposes targets through Cluster.setTargets().
 */

import { getLogger } from "@logtape/logtape";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import type { Config } from "../config/types.ts";
import type { Target } from "./cluster.ts";

const log = getLogger(["culex", "cluster"]);

/** First line of every announcement (the format's version). */
const MAGIC = "CULEX-MCAST/1";
/** Announcements further than this from the receiver's clock are stale (a replay, or skew). */
export const MAX_SKEW_MS = 5 * 60_000;
/** Largest datagram read as an announcement. */
const MAX_DATAGRAM = 2_048;
/** Different senders remembered for log-once. */
const MAX_LOGGED = 1_024;

/** What one node announces. */
export interface Announcement {
  readonly cluster: string;
  readonly node: string;
  /** "host:port" of its cluster listener. */
  readonly address: string;
  /** Epoch ms when it was sent. */
  readonly at: number;
}

/** Why an announcement was not taken. */
export type Refusal = "malformed" | "unsigned" | "wrong signature" | "stale" | "other cluster";

function key(cookie: string): Buffer {
  // A key of its own: the cookie's HMAC uses on the links never meet this one.
  return createHmac("sha256", cookie).update("culex mcast announcement").digest();
}

/**
 * The datagram for `a`: MAGIC, the JSON body and its hex HMAC, one per line.
 *
 * @example
 * ```ts
 * import { encodeAnnouncement, readAnnouncement } from "./mcast.ts";
 * import assert from "node:assert/strict";
 * const a = { cluster: "c", node: "a@h", address: "h:4370", at: Date.now() };
 * const bytes = encodeAnnouncement(a, "secret");
 * assert.deepEqual(readAnnouncement(bytes, "secret", "c", a.at), a);
 * assert.equal(readAnnouncement(bytes, "other", "c", a.at), "wrong signature");
 * ```
 */
export function encodeAnnouncement(a: Announcement, cookie: string): Uint8Array {
  const body = JSON.stringify({ cluster: a.cluster, node: a.node, address: a.address, at: a.at });
  const sig = createHmac("sha256", key(cookie)).update(body).digest("hex");
  return new TextEncoder().encode(`${MAGIC}\n${body}\n${sig}`);
}

/** The announcement in `bytes` if it is signed with `cookie`, of `cluster` and fresh; else why not. */
export function readAnnouncement(
  bytes: Uint8Array,
  cookie: string,
  cluster: string,
  now: number,
): Announcement | Refusal {
  const [magic, body, sig, ...rest] = new TextDecoder().decode(bytes).split("\n");
  if (magic !== MAGIC || body === undefined || rest.length > 0) return "malformed";
  if (!sig) return "unsigned";
  const expected = createHmac("sha256", key(cookie)).update(body).digest();
  const given = /^[0-9a-f]{64}$/.test(sig) ? Buffer.from(sig, "hex") : null;
  if (!given || !timingSafeEqual(given, expected)) return "wrong signature";
  let a: Partial<Announcement>;
  try {
    a = JSON.parse(body) as Partial<Announcement>;
  } catch {
    return "malformed";
  }
  if (
    typeof a.cluster !== "string" || typeof a.node !== "string" ||
    typeof a.address !== "string" || typeof a.at !== "number"
  ) return "malformed";
  if (Math.abs(now - a.at) > MAX_SKEW_MS) return "stale";
  if (a.cluster !== cluster) return "other cluster";
  return { cluster: a.cluster, node: a.node, address: a.address, at: a.at };
}

/** The Cluster side mcast needs. */
export interface TargetSink {
  setTargets(targets: readonly Target[]): void;
}

/** Starts announcing and listening; `port` is this node's real cluster port. */
export async function startMcast(
  config: Config,
  cluster: TargetSink,
  port: number,
): Promise<{ stop(): Promise<void> }> {
  const c = config.cluster;
  const m = c.mcast;
  const host = config.node.name.slice(config.node.name.indexOf("@") + 1);
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
  socket.on("error", (err: Error) => log.warning("Cluster mcast: {error}", { error: err.message }));
  let bound = -1;
  for (const p of m.ports) {
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(p, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      bound = p;
      break;
    } catch {
      // Taken without SO_REUSEADDR by something else: the next port.
    }
  }
  if (bound < 0) {
    socket.close();
    throw new Error(`cluster.mcast.ports: none of ${m.ports.join(", ")} could be bound`);
  }
  const iface = m.iface === "0.0.0.0" ? undefined : m.iface;
  try {
    socket.addMembership(m.addr, iface);
    socket.setMulticastTTL(m.ttl);
    socket.setMulticastLoopback(m.loop);
    if (iface) socket.setMulticastInterface(iface);
  } catch (err) {
    socket.close();
    throw new Error(
      `cluster.mcast: cannot join ${m.addr} on interface ${m.iface}: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  log.info("Cluster mcast: announcing {node} at {address} to {group} (listening on port {port})", {
    node: config.node.name,
    address,
    group: `${m.addr}:${m.ports.join(",")}`,
    port: bound,
  });

  const seen = new Map<string, { target: Target; at: number }>();
  const logged = new Set<string>();
  const expireMs = 3 * c.discoveryInterval;
  const propose = () => cluster.setTargets([...seen.values()].map((s) => s.target));
  socket.on("message", (bytes: Uint8Array, from: { address: string; port: number }) => {
    if (bytes.length > MAX_DATAGRAM) return;
    const a = readAnnouncement(bytes, config.node.cookie, c.name, Date.now());
    if (typeof a === "string") {
      const sender = `${from.address}:${from.port}`;
      const k = `${sender} ${a}`;
      if (a !== "other cluster" && !logged.has(k) && logged.size < MAX_LOGGED) {
        logged.add(k);
        log.warning("Cluster mcast: ignored an announcement from {sender}: {reason}", {
          sender,
          reason: a,
        });
      }
      return;
    }
    if (a.node === config.node.name) return;
    const had = seen.get(a.node);
    seen.set(a.node, { target: { name: a.node, address: a.address }, at: Date.now() });
    if (had?.target.address !== a.address) propose();
  });

  const announce = () => {
    const bytes = encodeAnnouncement(
      { cluster: c.name, node: config.node.name, address, at: Date.now() },
      config.node.cookie,
    );
    for (const p of m.ports) socket.send(bytes, p, m.addr);
    // Nodes not heard for three rounds are no longer proposed (a link that is up stays up).
    const before = seen.size;
    for (const [node, s] of seen) if (Date.now() - s.at > expireMs) seen.delete(node);
    if (seen.size !== before) propose();
  };
  announce();
  const timer = setInterval(announce, c.discoveryInterval);
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        socket.close(() => resolve());
      }),
  };
}
