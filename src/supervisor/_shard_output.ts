/**
 * ShardOutput: the supervisor's one doorbell loop over every shard → supervisor ring. Takes each
 * shard's records in batches, hands bytes to their connections (one write per connection per
 * pass), pauses and resumes reading as the shards ask, answers request ids, spreads shard events
 * and passes cluster records on. Private to src/supervisor/. Owns the pass loop and the
 * connections touched in a pass; the links, connections and cluster belong to the supervisor and
 * are reached through ShardOutputParts.
 */

import { getLogger } from "@logtape/logtape";
import { setImmediate } from "node:timers";
import { FieldReader, readDoorbell, RecordKind, waitDoorbell } from "../ipc/mod.ts";
import type { BanEntry } from "../auth/mod.ts";
import type { Connection } from "./connection.ts";
import type { ShardLink } from "./_shard_link.ts";

const log = getLogger(["culex", "supervisor"]);

/** Records taken from one shard's ring before looking at the next. */
const BATCH = 1024;

/** What the pass loop reads from and hands to the supervisor. */
export interface ShardOutputParts {
  /** The doorbell every shard rings after writing to its ring to the supervisor. */
  bell(): SharedArrayBuffer;
  /** The current link to each shard (a restarted shard gets a new one). */
  links(): readonly ShardLink[];
  /** The open connection `id`, on whichever shard. */
  connection(id: number): Connection | undefined;
  /** A Reply record: the answer to request `id`. */
  reply(id: number, ok: boolean, json: string): void;
  /** A shard's ban (flapping) goes to every shard and the store. */
  addBan(entry: BanEntry): Promise<unknown>;
  /** Applies a cluster record; false when `kind` is not one. */
  clusterRecord(shard: number, kind: number, payload: Uint8Array): boolean;
  /** A pass took records: forwards queued for other nodes go out. */
  flushCluster(): void;
  /** Records handled, for the idle GC's measure of load. */
  worked(n: number): void;
}

/** See the file header. */
export class ShardOutput {
  readonly #parts: ShardOutputParts;
  #touched: Connection[] = [];
  /** The last pass stopped at BATCH records on some ring: more may be waiting. */
  #batchFull = false;
  #stopped = false;

  constructor(parts: ShardOutputParts) {
    this.#parts = parts;
  }

  /** Marks the loop stopped; run() returns at its next wake-up (ring the doorbell). */
  stop(): void {
    this.#stopped = true;
  }

  /** The pass loop, until stop(). */
  async run(): Promise<void> {
    const bell = this.#parts.bell();
    while (!this.#stopped) {
      const seen = readDoorbell(bell);
      const work = this.#drainOnce();
      // Sleep at once when the pass took everything and nothing rang since (the wake-up is a
      // macrotask turn too): one event loop iteration less per wake-up (see Shard.#run).
      if (work === 0 || (!this.#batchFull && readDoorbell(bell) === seen)) {
        await waitDoorbell(bell, seen);
      } else {
        // Socket reads and writes are macrotasks: let them run between busy passes.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Drains until no shard wrote anything for `quietMs`, at most `timeoutMs`. */
  async drainUntilQuiet(quietMs: number, timeoutMs: number): Promise<void> {
    const bell = this.#parts.bell();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const seen = readDoorbell(bell);
      if (this.#drainOnce() > 0) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await waitDoorbell(bell, seen, quietMs);
      if (readDoorbell(bell) === seen) return;
    }
  }

  /** One pass over every shard → supervisor ring; writes go out once per pass. */
  #drainOnce(): number {
    let work = 0;
    this.#batchFull = false;
    for (const link of this.#parts.links()) {
      const n = link.drain(this.#onRecord, BATCH);
      if (n === BATCH) this.#batchFull = true;
      work += n;
    }
    this.#parts.worked(work);
    // Forwards to other nodes first: theirs is the longer path (bench/cluster_bench.ts).
    if (work > 0) this.#parts.flushCluster();
    for (const conn of this.#touched) conn.flush();
    this.#touched.length = 0;
    return work;
  }

  #onRecord = (link: ShardLink, kind: number, payload: Uint8Array): void => {
    try {
      const r = new FieldReader(payload);
      switch (kind) {
        case RecordKind.ConnOutbound: {
          const conn = this.#owned(link, r.u32());
          if (conn?.send(r.bytes())) this.#touched.push(conn);
          return;
        }
        case RecordKind.ConnClose:
          this.#owned(link, r.u32())?.end();
          return;
        case RecordKind.InputPause:
          link.setInputPause(r.u8() === 1);
          return;
        case RecordKind.ConnPause: {
          const conn = this.#owned(link, r.u32());
          if (conn) link.setConnPause(conn, r.u8() === 1);
          return;
        }
        case RecordKind.Event:
          this.#onEvent(link.index, r.str());
          return;
        case RecordKind.Reply: {
          const id = r.u32();
          const ok = r.u8() === 0;
          this.#parts.reply(id, ok, r.str());
          return;
        }
        default:
          if (this.#parts.clusterRecord(link.index, kind, payload)) return;
          log.error("Unknown record kind {kind} from shard {index}", { kind, index: link.index });
      }
    } catch (err) {
      log.error("Bad record {kind} from shard {index}: {error}", {
        kind,
        index: link.index,
        error: String(err),
      });
    }
  };

  /** A shard reports something the whole node must know (a ban decided by flapping). */
  #onEvent(shard: number, json: string): void {
    const event = JSON.parse(json) as { type?: string; entry?: BanEntry };
    if (event.type === "ban" && event.entry) {
      void this.#parts.addBan(event.entry).catch((err) => {
        log.warning("Spreading a ban from shard {shard} failed: {error}", {
          shard,
          error: String(err),
        });
      });
      return;
    }
    log.error("Unknown event from shard {shard}: {json}", { shard, json });
  }

  /** The connection `id` if it still belongs to the shard of `link`. */
  #owned(link: ShardLink, id: number): Connection | undefined {
    const conn = this.#parts.connection(id);
    return conn && conn.shard === link.index && link.connections.has(conn) ? conn : undefined;
  }
}
