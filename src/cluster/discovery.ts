/**
 * Discovery: proposes peer addresses to the Cluster per `cluster.discovery_strategy`. static
 * reads `cluster.static.seeds` once; dns asks `cluster.dns.name` (A, AAAA or SRV, on Culex's own
 * `cluster.dns.nameservers` when given) every `discovery_interval`; etcd registers this node
 * under a lease (v3 JSON API) and lists the prefix as often. Discovery only proposes: the links
 * and the cookie decide membership. Owns its timers and HTTP requests; never touches a link.
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { encodeBase64 } from "../bytes.ts";
import type { Cluster, Target } from "./cluster.ts";

const log = getLogger(["culex", "cluster"]);

/** Port of a peer named without one (EMQX's and Erlang's habit of a fixed port). */
export const DEFAULT_PORT = 4370;
/** Bound on one DNS or etcd request. */
const REQUEST_TIMEOUT_MS = 5_000;

/** Where discovery's proposals go: the Cluster. */
export type TargetSink = Pick<Cluster, "setTargets">;

/** A running discovery. */
export interface Discovery {
  stop(): Promise<void>;
}

/**
 * Parses a seed "name@host" / "name@host:port" / "name@[v6]:port" into a Target.
 *
 * @example
 * ```ts
 * import { seedTarget } from "./discovery.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(seedTarget("b@10.0.0.2"), { name: "b@10.0.0.2", address: "10.0.0.2:4370" });
 * assert.deepEqual(seedTarget("b@h:5000"), { name: "b@h", address: "h:5000" });
 * ```
 */
export function seedTarget(seed: string): Target {
  const at = seed.indexOf("@");
  const rest = seed.slice(at + 1);
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(rest);
  const host = m?.[1] ?? rest;
  const port = m?.[2] ? Number(m[2]) : DEFAULT_PORT;
  return {
    name: `${seed.slice(0, at)}@${host.replace(/^\[|\]$/g, "")}`,
    address: `${host}:${port}`,
  };
}

/** Starts the configured discovery; `port` is this node's real cluster port. */
export function startDiscovery(config: Config, cluster: TargetSink, port: number): Discovery {
  const c = config.cluster;
  switch (c.discoveryStrategy) {
    case "static":
      cluster.setTargets(c.staticSeeds.map(seedTarget));
      return { stop: () => Promise.resolve() };
    case "dns":
      return polling(c.discoveryInterval, () => dnsTargets(config, port), cluster, "dns");
    case "etcd":
      return etcdDiscovery(config, cluster, port);
    case "k8s":
      return polling(c.discoveryInterval, () => k8sTargets(config, port), cluster, "k8s");
    default:
      return { stop: () => Promise.resolve() };
  }
}

/** Asks `find` now and every `interval`; a failure keeps the last proposal. */
function polling(
  interval: number,
  find: () => Promise<Target[]>,
  cluster: TargetSink,
  what: string,
  onStop: () => Promise<void> = () => Promise.resolve(),
): Discovery {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failing = false;
  const round = async () => {
    try {
      const targets = await find();
      if (stopped) return;
      if (failing) log.info("Cluster {what} discovery answers again", { what });
      failing = false;
      cluster.setTargets(targets);
    } catch (err) {
      // Logged when it starts failing, not every round.
      if (!failing) {
        log.warning("Cluster {what} discovery failed: {error}", {
          what,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      failing = true;
    }
    if (!stopped) timer = setTimeout(round, interval);
  };
  void round();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await onStop();
    },
  };
}

function nameServers(config: Config): (Deno.ResolveDnsOptions | undefined)[] {
  const list = config.cluster.dns.nameservers;
  if (list.length === 0) return [undefined];
  return list.map((ns) => {
    const m = /^(?:\[([^\]]+)\]|([^:]+|[0-9A-Fa-f:]+))(?::(\d+))?$/.exec(ns);
    const ipAddr = m?.[1] ?? m?.[2] ?? ns;
    const port = m?.[3] ? Number(m[3]) : 53;
    return { nameServer: { ipAddr, port } };
  });
}

/** Asks each name server in turn until one answers. */
async function onServers<T>(
  config: Config,
  ask: (opts: Deno.ResolveDnsOptions) => Promise<T>,
): Promise<T> {
  let last: unknown = null;
  for (const opts of nameServers(config)) {
    try {
      return await ask({ ...opts, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

async function dnsTargets(config: Config, port: number): Promise<Target[]> {
  const { name, recordType } = config.cluster.dns;
  if (recordType === "srv") {
    const out: Target[] = [];
    const records = await onServers(config, (o) => Deno.resolveDns(name, "SRV", o));
    for (const srv of records) {
      const host = srv.target.replace(/\.$/, "");
      const ips = await onServers(config, (o) => Deno.resolveDns(host, "A", o))
        .catch(() => [host]);
      for (const ip of ips) out.push({ address: `${ip}:${srv.port}` });
    }
    return out;
  }
  const type = recordType === "aaaa" ? "AAAA" : "A";
  const ips = await onServers(config, (o) => Deno.resolveDns(name, type, o));
  return ips.map((ip) => ({ address: ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}` }));
}

// Kubernetes ------------------------------------------------------------------------------------

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

function readOptional(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

interface Endpoints {
  subsets?: { addresses?: { ip?: string; hostname?: string }[] }[];
}

/** The Endpoints of `cluster.k8s.service_name`, as dial targets on this node's cluster port. */
async function k8sTargets(config: Config, port: number): Promise<Target[]> {
  const k = config.cluster.k8s;
  const url = `${k.apiserver.replace(/\/$/, "")}/api/v1/namespaces/${k.namespace}/endpoints/` +
    k.serviceName;
  const token = readOptional(`${SERVICE_ACCOUNT}/token`);
  const ca = readOptional(`${SERVICE_ACCOUNT}/ca.crt`);
  const client = ca ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
  try {
    const res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(client ? { client } : {}),
    });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const body = await res.json() as Endpoints;
    const out: Target[] = [];
    for (const subset of body.subsets ?? []) {
      for (const a of subset.addresses ?? []) {
        const host = k.addressType === "ip"
          ? a.ip
          : k.addressType === "dns"
          ? a.ip && `${a.ip.replaceAll(".", "-")}.${k.namespace}.${k.suffix}`
          : a.hostname && `${a.hostname}.${k.serviceName}.${k.namespace}.${k.suffix}`;
        if (host) {
          out.push({ address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}` });
        }
      }
    }
    return out;
  } finally {
    client?.close();
  }
}

// etcd -----------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const b64 = (s: string) => encodeBase64(encoder.encode(s));

/** The end of the key range that holds every key starting with `prefix` (etcd's convention). */
function rangeEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! + 1;
  return encodeBase64(bytes);
}

function etcdDiscovery(config: Config, cluster: TargetSink, port: number): Discovery {
  const c = config.cluster;
  const prefix = `${c.etcd.prefix}/${c.name}/nodes/`;
  const host = config.node.name.slice(config.node.name.indexOf("@") + 1);
  const advertised = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  let lease: string | null = null;
  let leaseAt = 0;
  let endpoint = 0;
  const call = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    let last: unknown = null;
    for (let k = 0; k < c.etcd.server.length; k++) {
      const i = (endpoint + k) % c.etcd.server.length;
      const base = c.etcd.server[i]!.replace(/\/$/, "");
      try {
        const res = await fetch(`${base}${path}`, {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const json = await res.json() as Record<string, unknown>;
        if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
        endpoint = i;
        return json;
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new Error(String(last));
  };
  const ttlSeconds = Math.max(2, Math.round(c.etcd.nodeTtl / 1000));
  const register = async () => {
    const now = Date.now();
    if (lease !== null && now - leaseAt < c.etcd.nodeTtl / 3) return;
    if (lease !== null) {
      const r = await call("/v3/lease/keepalive", { ID: lease });
      const result = r.result as { TTL?: string } | undefined;
      // An expired lease answers TTL 0 or nothing: grant a new one below.
      if (result?.TTL !== undefined && Number(result.TTL) > 0) {
        leaseAt = now;
        return;
      }
      lease = null;
    }
    const granted = await call("/v3/lease/grant", { TTL: ttlSeconds });
    // The lease is kept alive only once the key is on it: a put that failed (etcd slow to sync
    // under load, past REQUEST_TIMEOUT_MS) is tried again next round with a new lease. Keeping
    // the lease first left the node out of etcd for good, its rounds renewing a lease with no
    // key. A lease left unused here expires by its TTL.
    const grantedId = String(granted.ID);
    await call("/v3/kv/put", {
      key: b64(prefix + config.node.name),
      value: b64(advertised),
      lease: grantedId,
    });
    lease = grantedId;
    leaseAt = now;
  };
  const find = async (): Promise<Target[]> => {
    await register();
    const r = await call("/v3/kv/range", { key: b64(prefix), range_end: rangeEnd(prefix) });
    const kvs = (r.kvs ?? []) as { key: string; value: string }[];
    const decoder = new TextDecoder();
    const unb64 = (s: string) => decoder.decode(Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0)));
    return kvs.map((kv) => ({
      name: unb64(kv.key).slice(prefix.length),
      address: unb64(kv.value),
    }));
  };
  const interval = Math.min(c.discoveryInterval, Math.floor(c.etcd.nodeTtl / 3));
  return polling(interval, find, cluster, "etcd", async () => {
    if (lease === null) return;
    // Leave at once rather than at the lease's end.
    await call("/v3/lease/revoke", { ID: lease }).catch(() => {});
  });
}
