/**
 * Test helper for the netsplit-in-namespaces suite (29_hop_netns, issue 15): two network
 * namespaces joined by one veth pair (10.29.x.1/2, private to them), a Culex node started inside
 * each, and mosquitto_pub / mosquitto_sub run inside a namespace (`ip netns exec`). Needs root
 * and `ip netns`; netnsUnavailable() says why not. Owns the namespaces, nodes and clients it
 * starts; the caller stops them (removeNetwork() deletes the namespaces, the veth pair with them).
 */

import { parseSubLines, SUB_FORMAT } from "./mosquitto.ts";

const tag = `${Deno.pid % 100_000}`;
export const NS_A = `culex29hopA${tag}`;
export const NS_B = `culex29hopB${tag}`;
// Interface names are at most 15 bytes.
export const VETH_A = `c29a${tag}`;
const VETH_B = `c29b${tag}`;
// A /30 of its own per run (pid-derived), so that parallel runs do not share addresses.
const NET = `10.29.${Deno.pid % 250}`;
export const ADDR_A = `${NET}.1`;
export const ADDR_B = `${NET}.2`;
export const CLUSTER_PORT = 4370;
const MQTT_PORT = 1883;

/** Runs `ip args…`; returns the exit code and stderr. */
async function ip(...args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
}

/** Null when this machine lets the test make namespaces, else why not (for the test's name). */
export async function netnsUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `network namespaces are Linux only (${Deno.build.os})`;
  try {
    if (Deno.uid() !== 0) return `not root (uid ${Deno.uid()}): ip netns needs root`;
  } catch { /* Deno.uid() unavailable: let ip netns add decide */ }
  const probe = `culex29probe${tag}`;
  try {
    const r = await ip("netns", "add", probe);
    if (r.code !== 0) return `ip netns add failed: ${r.stderr || `exit ${r.code}`}`;
  } catch (err) {
    return `ip not runnable: ${err instanceof Error ? err.message : String(err)}`;
  }
  try {
    // A container may allow namespaces but not veth pairs: try one inside the probe.
    const v = await ip(
      "-n",
      probe,
      "link",
      "add",
      `c29p${tag}`,
      "type",
      "veth",
      "peer",
      "name",
      `c29q${tag}`,
    );
    if (v.code !== 0) return `ip link add ... type veth failed: ${v.stderr || `exit ${v.code}`}`;
  } finally {
    await ip("netns", "del", probe);
  }
  return null;
}

/** Must succeed: a setup step that fails stops the test with its message. */
export async function must(...args: string[]): Promise<void> {
  const r = await ip(...args);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr || `exit ${r.code}`}`);
}

/** Two namespaces joined by one veth pair, loopback up in each. */
export async function makeNetwork(): Promise<void> {
  await must("netns", "add", NS_A);
  await must("netns", "add", NS_B);
  await must(
    "-n",
    NS_A,
    "link",
    "add",
    VETH_A,
    "type",
    "veth",
    "peer",
    "name",
    VETH_B,
    "netns",
    NS_B,
  );
  await must("-n", NS_A, "addr", "add", `${ADDR_A}/30`, "dev", VETH_A);
  await must("-n", NS_B, "addr", "add", `${ADDR_B}/30`, "dev", VETH_B);
  for (const [ns, dev] of [[NS_A, VETH_A], [NS_B, VETH_B]] as const) {
    await must("-n", ns, "link", "set", "lo", "up");
    await must("-n", ns, "link", "set", dev, "up");
  }
}

/** Deletes whatever of the network exists (the veth pair goes with its namespace). */
export async function removeNetwork(): Promise<void> {
  for (const ns of [NS_A, NS_B]) await ip("netns", "del", ns).catch(() => {});
}

/** A node process inside a namespace, with its log lines. */
export interface NsNode {
  readonly name: string;
  readonly ns: string;
  readonly child: Deno.ChildProcess;
  readonly dataDir: string;
  log(): string;
}

export async function startNsNode(
  short: string,
  ns: string,
  addr: string,
  peer: string,
): Promise<NsNode> {
  const name = `${short}@${addr}`;
  const dataDir = await Deno.makeTempDir({ prefix: "culex_test_netns_" });
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const sets = [
    `node.name=${name}`,
    "node.cookie=netns-29",
    `node.data_dir=${dataDir}`,
    `listeners.tcp.default.bind=127.0.0.1:${MQTT_PORT}`,
    "dashboard.listeners.http.bind=127.0.0.1:0",
    "cluster.discovery_strategy=static",
    `cluster.listen=${addr}:${CLUSTER_PORT}`,
    `cluster.static.seeds=${peer}`,
    "cluster.heartbeat_interval=200ms",
    "cluster.heartbeat_timeout=1500ms",
    "log.level=info",
  ];
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      ns,
      Deno.execPath(),
      "run",
      "-A",
      main,
      "start",
      "--shards",
      "2",
      ...sets.flatMap((s) => ["--set", s]),
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  for (const stream of [child.stdout, child.stderr]) {
    void (async () => {
      for await (const chunk of stream) text += dec.decode(chunk, { stream: true });
    })().catch(() => {});
  }
  const node = { name, ns, child, dataDir, log: () => text };
  await waitFor(node, "Listener tcp:default listening", 60_000);
  return node;
}

export async function stopNsNode(n: NsNode): Promise<void> {
  try {
    n.child.kill("SIGTERM");
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      n.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  await n.child.status;
  clearTimeout(timer);
  await Deno.remove(n.dataDir, { recursive: true }).catch(() => {});
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) n++;
  return n;
}

/** Waits (bounded) until `node`'s log holds `text` `times` times. */
export async function waitFor(
  node: NsNode,
  text: string,
  timeoutMs = 15_000,
  times = 1,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count(node.log(), text) < times) {
    if (Date.now() > deadline) {
      throw new Error(
        `${node.name}: no "${text}" (×${times}) in the log:\n${node.log().slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** mosquitto_pub inside `ns` (QoS 1, MQTT 5); rejects unless it exits 0. */
export async function pub(ns: string, topic: string, message: string, id: string): Promise<void> {
  const out = await new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      ns,
      "mosquitto_pub",
      ...["-h", "127.0.0.1", "-p", String(MQTT_PORT), "-V", "mqttv5", "-q", "1", "-i", id],
      ...["-t", topic, "-m", message],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).output();
  if (out.code !== 0) {
    throw new Error(
      `mosquitto_pub in ${ns} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** A long-running mosquitto_sub inside a namespace (debug on: CONNACK, SUBACK, DISCONNECT). */
export interface NsSub {
  text(): string;
  stop(): Promise<void>;
}

export async function sub(ns: string, topic: string, id: string): Promise<NsSub> {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      ns,
      // Line-buffered: piped, mosquitto_sub would hold its debug lines in a full buffer.
      "stdbuf",
      "-oL",
      "mosquitto_sub",
      ...["-h", "127.0.0.1", "-p", String(MQTT_PORT), "-V", "mqttv5", "-q", "1", "-i", id],
      ...["-t", topic, "-d", "-F", SUB_FORMAT, "-W", "120"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const reading = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const chunk of s) text += dec.decode(chunk, { stream: true });
  })).catch(() => {});
  const handle = {
    text: () => text,
    async stop() {
      try {
        // SIGKILL: mosquitto_sub -V mqttv5 can hang in its own signal handler (_helpers/mosquitto.ts).
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await reading;
    },
  };
  const deadline = Date.now() + 10_000;
  while (!text.includes("received SUBACK")) {
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`mosquitto_sub ${id} in ${ns}: no SUBACK:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return handle;
}

/** The payloads `s` has received so far, in order. */
export function payloads(s: NsSub): string[] {
  return parseSubLines(s.text()).map((l) => l.payload);
}

/** Publishes probes from `ns` until `s` got one (the route reached the publisher's node). */
export async function awaitRoute(ns: string, topic: string, s: NsSub, id: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await pub(ns, topic, `probe`, id);
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      if (payloads(s).includes("probe")) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`the route of ${topic} never reached ${ns}:\n${s.text()}`);
}

/** Waits (bounded) until `s` received `payload`. */
export async function received(s: NsSub, payload: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!payloads(s).includes(payload)) {
    if (Date.now() > deadline) throw new Error(`no "${payload}":\n${s.text()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
