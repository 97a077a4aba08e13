/**
 * Test helper (part of broker.ts): the system's `mosquitto` as the broker under test
 * (CULEX_TEST_BROKER=mosquitto), so that the suite itself can be checked against a reference
 * broker. The `--set` keys that have a Mosquitto equivalent are translated; the others are
 * ignored and noted in the logs. Owns the process and the temp config it writes.
 */

import { type BrokerHandle, type StartBrokerOptions, watchStartup } from "./broker_process.ts";

const MOSQUITTO_RUNNING = /mosquitto version \S+ running/;

/** Mosquitto counterparts of the `--set` keys the suite uses. */
const MOSQUITTO_GLOBAL: Record<string, string> = {
  "mqtt.max_packet_size": "max_packet_size",
  "mqtt.max_inflight": "max_inflight_messages",
  "mqtt.max_mqueue_len": "max_queued_messages",
};
const MOSQUITTO_LISTENER: Record<string, string> = {
  "listeners.tcp.default.max_connections": "max_connections",
  "mqtt.max_topic_alias": "max_topic_alias",
};

function parseSize(value: string): string {
  const m = /^(\d+)\s*(KB|MB|B)?$/i.exec(value);
  if (!m) return value;
  const unit = (m[2] ?? "B").toUpperCase();
  const n = Number(m[1]) * (unit === "KB" ? 1024 : unit === "MB" ? 1024 * 1024 : 1);
  return String(n);
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await Promise.resolve();
  return port;
}

/** Starts mosquitto on a free loopback port with the options it has an equivalent for. */
export async function startMosquitto(opts: StartBrokerOptions): Promise<BrokerHandle> {
  const port = await freePort();
  const global: string[] = ["allow_anonymous true", "persistence false", "log_dest stderr"];
  global.push("log_type error", "log_type warning", "log_type notice", "log_type information");
  const listener: string[] = [`listener ${port} 127.0.0.1`];
  const ignored: string[] = [];
  for (const s of opts.sets ?? []) {
    const eq = s.indexOf("=");
    const key = s.slice(0, eq);
    const value = s.slice(eq + 1);
    const g = MOSQUITTO_GLOBAL[key];
    const l = MOSQUITTO_LISTENER[key];
    if (g) global.push(`${g} ${key === "mqtt.max_packet_size" ? parseSize(value) : value}`);
    else if (l) listener.push(`${l} ${value}`);
    else ignored.push(s);
  }
  const dir = await Deno.makeTempDir({ prefix: "culex_test_mosquitto_" });
  const conf = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(conf, [...global, ...listener, ""].join("\n"));
  const child = new Deno.Command("mosquitto", {
    args: ["-c", conf],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const note = ignored.length ? `(test helper: no mosquitto equivalent for ${ignored})\n` : "";
  const handle = await watchStartup(
    child,
    (line) => MOSQUITTO_RUNNING.test(line) ? port : null,
    `mosquitto -c ${conf}`,
    true,
    note,
  );
  const stop = handle.stop;
  return {
    ...handle,
    async stop() {
      const code = await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return code;
    },
  };
}
