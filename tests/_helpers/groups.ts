/**
 * Test helper: shared-subscription members — collect what a group's members receive, check that
 * the messages were split (each exactly once), and read raw PUBLISHes. Owns no clients; the
 * suites close what they open.
 */

import type { MqttClient } from "mqtt";
import { assertEquals } from "./assert.ts";
import { clientIdForShard, connect, drain, type Received, sleep, subscribe } from "./clients.ts";
import { parsePublish5, type Publish5 } from "./mqtt5.ts";
import type { RawClient } from "./raw_client.ts";

/** Quiet time after the expected messages, so that duplicates show. */
export const QUIET_MS = 500;

/**
 * Collects what each member receives until n messages arrived in all (at most timeoutMs), then
 * waits QUIET_MS more so that duplicates show.
 */
export async function gather(
  members: readonly MqttClient[],
  n: number,
  timeoutMs: number,
): Promise<Received[][]> {
  const got: Received[][] = members.map(() => []);
  const deadline = Date.now() + timeoutMs;
  const total = () => got.reduce((s, g) => s + g.length, 0);
  while (total() < n && Date.now() < deadline) {
    await sleep(50);
    for (const [i, m] of members.entries()) got[i]?.push(...await drain(m, 0));
  }
  await sleep(QUIET_MS);
  for (const [i, m] of members.entries()) got[i]?.push(...await drain(m, 0));
  return got;
}

/** Payloads "0".."n-1". */
export function seqOf(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}

/** Fails unless the members' messages together are exactly `want`, each once. */
export function assertPartition(got: Received[][], want: readonly string[], what: string): void {
  const all = got.flat().map((m) => m.payload).sort((a, b) => Number(a) - Number(b));
  assertEquals(all, [...want].sort((a, b) => Number(a) - Number(b)), `${what}: each message once`);
}

/** Reads raw PUBLISHes until none arrives for quietMs (or max arrived). */
export async function readPublishes(
  raw: RawClient,
  max: number,
  quietMs: number,
): Promise<Publish5[]> {
  const out: Publish5[] = [];
  while (out.length < max) {
    let p;
    try {
      p = await raw.readPacket(quietMs);
    } catch {
      break; // quiet
    }
    if (!p) break;
    out.push(parsePublish5(p));
  }
  return out;
}

/** Connects n members of `$share/g/{filter}` on shards 0, 1, 2, ... of 4 (v5, 3.1.1, v5, ...). */
export async function members(
  url: string,
  prefix: string,
  filter: string,
  n: number,
): Promise<MqttClient[]> {
  const out: MqttClient[] = [];
  for (let i = 0; i < n; i++) {
    const clientId = clientIdForShard(i, 4, `${prefix}${i}`);
    const c = await connect(url, { protocolVersion: i % 2 ? 4 : 5, clientId });
    out.push(c);
    await subscribe(c, `$share/g/${filter}`, { qos: 1 });
  }
  return out;
}

/** Index of the member that received each payload. */
export function ownerOf(got: Received[][]): Map<string, number> {
  const m = new Map<string, number>();
  got.forEach((g, i) => g.forEach((r) => m.set(r.payload, i)));
  return m;
}
