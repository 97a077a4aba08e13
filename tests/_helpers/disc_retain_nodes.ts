/**
 * Test helper: the nodes of a two-node cluster test with the disc retainer, each kept on its own
 * data directory across stops, kills and restarts, and what the tests read from those
 * directories (`ctl retainer topics`). Owns the nodes it started and their directories.
 */

import assert from "node:assert/strict";
import { type ClusterNode, startNode } from "./cluster.ts";
import { culex } from "./culex_cli.ts";

/** See the file header. */
export class DiscRetainNodes {
  readonly running = new Set<ClusterNode>();
  readonly #dirs = new Map<string, string>();
  readonly #seeds: string[];
  readonly #base: string;
  readonly #sets: readonly string[];
  readonly #prefix: string;

  /** `base`: the topic prefix the test owns; `sets`: beside the disc retainer's. */
  constructor(prefix: string, seeds: string[], base: string, sets: readonly string[] = []) {
    this.#prefix = prefix;
    this.#seeds = seeds;
    this.#base = base;
    this.#sets = sets;
  }

  /** The data directory of node `short` (made at its first start). */
  dir(short: string): string {
    return this.#dirs.get(short)!;
  }

  /** Starts (or starts again, on the same directory) node `short`; "a" serves the API. */
  async start(short: string, port: number): Promise<ClusterNode> {
    let dataDir = this.#dirs.get(short);
    if (!dataDir) {
      dataDir = await Deno.makeTempDir({ prefix: this.#prefix });
      this.#dirs.set(short, dataDir);
    }
    const n = await startNode({
      short,
      clusterPort: port,
      seeds: this.#seeds,
      // One shard: a peer's retained writes are then applied in the order they came.
      shards: 1,
      dataDir,
      listeners: short === "a" ? ["http:dashboard"] : [],
      sets: ["retainer.backend.storage_type=disc", "sys_topics.sys_msg_interval=0", ...this.#sets],
    });
    this.running.add(n);
    return n;
  }

  /** Stops `n`, which must exit cleanly. */
  async stop(n: ClusterNode): Promise<void> {
    this.running.delete(n);
    assert.equal(await n.broker.stop(), 0, "a clean stop");
  }

  /** Kills `n` with SIGKILL. */
  async kill(n: ClusterNode): Promise<void> {
    this.running.delete(n);
    n.broker.kill();
    await n.broker.stop(); // reaps the killed process
  }

  /** The retained topics under the test's base on node `short` (read from its store). */
  async topicsOn(short: string): Promise<string[]> {
    const r = await culex(this.dir(short), ["ctl", "retainer", "topics"]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").filter((l) => l.startsWith(`${this.#base}/`)).sort();
  }

  /** Polls (bounded) until `n`'s retained topics under the base are `want`. */
  async awaitTopics(n: ClusterNode, want: string[]): Promise<void> {
    const short = n.name.split("@")[0]!;
    let got: string[] = [];
    for (let i = 0; i < 60; i++) {
      got = await this.topicsOn(short);
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(got, want, `${n.name}: retained topics`);
  }

  /** Stops every node still running and removes the directories. */
  async close(): Promise<void> {
    for (const n of this.running) await n.broker.stop();
    for (const d of this.#dirs.values()) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}
