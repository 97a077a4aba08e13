/**
 * Schema of the cluster keys (issue 15): `cluster.*` with EMQX's names
 * (`../shared/EMQX-NAMES.md` §10) and `node.cookie`. Private to src/config/; schema.ts wires
 * these in.
 */

import { z } from "zod";
import type { ClusterConfig } from "./types_cluster.ts";
import { sslOptions } from "./_schema_listeners.ts";
import { bind, bool, duration, int, MAX_TIMER_MS, oneOf, size, text } from "./_fields.ts";

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

/** A peer as seeds name it: "name@host" or "name@host:port" (port 4370 when left out). */
const SEED = /^[^@\s]+@(?:\[[0-9A-Fa-f:.]+\]|[^@\s:[\]]+)(?::\d{1,5})?$/;

function list<T extends z.ZodType>(item: T, expected: string) {
  return z.unknown().transform((v, ctx): z.output<T>[] => {
    // One string is taken as a comma-separated list (the environment and --set give strings).
    const items = typeof v === "string"
      ? v.split(",").map((s) => s.trim()).filter(Boolean)
      : typeof v === "number" // one port given alone (--set cluster.mcast.ports=4369)
      ? [v]
      : v;
    if (!Array.isArray(items) || items.length > 256) {
      ctx.addIssue({ code: "custom", message: expected, input: v });
      return z.NEVER;
    }
    const out: z.output<T>[] = [];
    for (const x of items) {
      const r = item.safeParse(x);
      if (!r.success) {
        ctx.addIssue({ code: "custom", message: expected, input: v });
        return z.NEVER;
      }
      out.push(r.data);
    }
    return out;
  });
}

/** `node.cookie`: the shared secret of the cluster's links (never sent, never logged). */
export function cookie() {
  return text(/^[\x21-\x7e]{1,255}$/, "a secret of 1-255 printable characters without spaces")
    .default("culexsecretcookie");
}

/** `cluster.*`. */
export const clusterSchema = z.strictObject({
  name: text(/^[A-Za-z0-9_.-]{1,64}$/, "a name of 1-64 letters, digits, _ . -").default("culex"),
  discovery_strategy: oneOf(
    ["singleton", "manual", "static", "dns", "mcast", "etcd", "k8s"] as const,
  )
    .default("singleton"),
  listen: bind().default({ bind: "0.0.0.0:4370", host: "0.0.0.0", port: 4370 }),
  heartbeat_interval: duration(100, 60_000).default(1_000),
  heartbeat_timeout: duration(300, 600_000).default(5_000),
  autoclean: duration(0, MAX_TIMER_MS).default(300_000),
  max_send_queue: size(64 * KB, GB).default(16 * MB),
  takeover_timeout: duration(100, 60_000).default(5_000),
  request_timeout: duration(100, 120_000).default(5_000),
  ssl_options: sslOptions.optional(),
  retain_tombstone_ttl: duration(0, MAX_TIMER_MS).default(86_400_000),
  retain_tombstone_max: int(0, 10_000_000).default(100_000),
  // Peers' client registry entries kept (src/cluster/registry.ts); beyond it, a lookup that
  // finds nothing asks every peer.
  registry_max: int(0, 100_000_000).default(2_000_000),
  discovery_interval: duration(500, 3_600_000).default(5_000),
  static: z.strictObject({
    seeds: list(z.string().regex(SEED), 'a list of node names "name@host" or "name@host:port"')
      .default([]),
  }).prefault({}),
  dns: z.strictObject({
    name: text(/^[A-Za-z0-9_.-]{1,253}$/, 'a DNS name such as "culex.example.com"')
      .default("localhost"),
    record_type: oneOf(["a", "aaaa", "srv"] as const).default("a"),
    nameservers: list(
      z.string().regex(/^(?:\[[0-9A-Fa-f:.]+\]|[0-9.]+|[0-9A-Fa-f:]+)(?::\d{1,5})?$/),
      'a list of name servers "ip" or "ip:port", e.g. ["127.0.0.1:5353"]',
    ).default([]),
  }).prefault({}),
  mcast: z.strictObject({
    addr: text(
      /^(22[4-9]|23\d)(\.\d{1,3}){3}$/,
      "an IPv4 multicast address (224.0.0.0-239.255.255.255)",
    )
      .default("239.192.0.1"),
    ports: list(z.coerce.number().int().min(1).max(65535), "a list of UDP ports, e.g. [4369, 4370]")
      .default([4369, 4370]),
    iface: text(/^\d{1,3}(\.\d{1,3}){3}$/, 'an IPv4 address of a local interface, e.g. "0.0.0.0"')
      .default("0.0.0.0"),
    ttl: int(0, 255).default(255),
    loop: bool().default(true),
  }).prefault({}),
  etcd: z.strictObject({
    server: list(
      z.string().regex(/^https?:\/\/[^\s/]+\/?$/),
      'a list of etcd endpoints "http://host:port"',
    ).default([]),
    prefix: text(/^[A-Za-z0-9_./-]{1,128}$/, "a key prefix of 1-128 letters, digits, _ . / -")
      .default("culex"),
    node_ttl: duration(2_000, 86_400_000).default(60_000),
  }).prefault({}),
  k8s: z.strictObject({
    apiserver: text(/^https?:\/\/[^\s/]+\/?$/, 'an API server URL "https://host:port"')
      .default("https://kubernetes.default.svc:443"),
    service_name: text(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a Kubernetes service name")
      .default("culex"),
    address_type: oneOf(["ip", "dns", "hostname"] as const).default("ip"),
    namespace: text(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a Kubernetes namespace")
      .default("default"),
    suffix: text(/^[A-Za-z0-9.-]{0,253}$/, 'a DNS suffix such as "pod.local"')
      .default("pod.local"),
  }).prefault({}),
}).superRefine((c, ctx) => {
  if (c.heartbeat_timeout <= c.heartbeat_interval) {
    ctx.addIssue({
      code: "custom",
      message: "a duration longer than cluster.heartbeat_interval",
      input: c.heartbeat_timeout,
      path: ["heartbeat_timeout"],
    });
  }
  if (c.discovery_strategy === "mcast" && c.mcast.ports.length === 0) {
    ctx.addIssue({
      code: "custom",
      message: "at least one UDP port (discovery_strategy is mcast)",
      input: c.mcast.ports,
      path: ["mcast", "ports"],
    });
  }
  if (c.discovery_strategy === "etcd" && c.etcd.server.length === 0) {
    ctx.addIssue({
      code: "custom",
      message: 'at least one endpoint "http://host:port" (discovery_strategy is etcd)',
      input: c.etcd.server,
      path: ["etcd", "server"],
    });
  }
}).transform((c): ClusterConfig => ({
  name: c.name,
  discoveryStrategy: c.discovery_strategy,
  listen: c.listen,
  heartbeatInterval: c.heartbeat_interval,
  heartbeatTimeout: c.heartbeat_timeout,
  autoclean: c.autoclean,
  maxSendQueue: c.max_send_queue,
  takeoverTimeout: c.takeover_timeout,
  requestTimeout: c.request_timeout,
  sslOptions: c.ssl_options ?? null,
  retainTombstoneTtl: c.retain_tombstone_ttl,
  retainTombstoneMax: c.retain_tombstone_max,
  registryMax: c.registry_max,
  mcast: {
    addr: c.mcast.addr,
    ports: c.mcast.ports,
    iface: c.mcast.iface,
    ttl: c.mcast.ttl,
    loop: c.mcast.loop,
  },
  discoveryInterval: c.discovery_interval,
  staticSeeds: c.static.seeds,
  dns: { name: c.dns.name, recordType: c.dns.record_type, nameservers: c.dns.nameservers },
  etcd: { server: c.etcd.server, prefix: c.etcd.prefix, nodeTtl: c.etcd.node_ttl },
  k8s: {
    apiserver: c.k8s.apiserver,
    serviceName: c.k8s.service_name,
    addressType: c.k8s.address_type,
    namespace: c.k8s.namespace,
    suffix: c.k8s.suffix,
  },
}));
