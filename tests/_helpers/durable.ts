/**
 * Helpers of the durable-store suites (27_*) that restart a broker on one port and data_dir:
 * a free port, npm:mqtt clients that keep their session and reconnect on their own, and a wait
 * for their next CONNACK.
 */

import mqtt, { type MqttClient } from "mqtt";

/** A port free on 127.0.0.1 now (the broker binds it next; restarts reuse it). */
export async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await Promise.resolve();
  return port;
}

/** A client that reconnects by itself (same object: its session state stays in memory). */
export function persistent(url: string, clientId: string, protocolVersion: 4 | 5): MqttClient {
  return mqtt.connect(url, {
    clientId,
    protocolVersion,
    clean: false,
    reconnectPeriod: 250,
    connectTimeout: 5000,
    resubscribe: false, // the broker must remember the subscriptions itself
    keepalive: 30,
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  });
}

export function connected(c: MqttClient, ms: number): Promise<void> {
  if (c.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no CONNACK within ${ms} ms`)), ms);
    c.once("connect", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
