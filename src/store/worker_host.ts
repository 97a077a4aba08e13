/**
 * StoreHost: the store worker's loop. Takes commit parts and reads from every attached port,
 * and once per turn (a macrotask after messages arrive) commits every ready part, from all
 * ports, in ONE transaction (group commit), replies, then answers the reads of that turn.
 * Holds the parts of commit tokens until every part arrived, and keeps each port's parts in
 * the order sent: a part never commits before an earlier part of its port. Owned by
 * src/store/; runs in the store worker (workers/store.ts), or in any isolate for tests.
 */

import { setImmediate } from "node:timers";
import { getLog } from "../log.ts";
import { StoreError } from "./errors.ts";
import type {
  CommitToken,
  PartResult,
  ReadQuery,
  ReadResults,
  StoreReply,
  StoreRequest,
} from "./protocol.ts";
import { MAX_READ_LIMIT, packRetainedPage } from "./protocol.ts";
import { decodeCommit } from "./_commit_codec.ts";
import type { Store } from "./store.ts";
import type { WireBatch } from "./types.ts";

interface Pending {
  readonly port: MessagePort;
  readonly id: number;
  readonly results: PartResult[];
  left: number;
}

interface Ref {
  /** Position in its port's sequence of parts (for the cuts in #collect). */
  readonly pos: number;
  readonly pending: Pending;
  readonly index: number;
  readonly batch: WireBatch;
  /** The commit tokens of the part (a merged part has several, _commit_codec.ts). */
  readonly tokens: readonly CommitToken[];
}

/** A port's parts not yet committed; refs[0] has position `base`. */
interface Queue {
  refs: Ref[];
  base: number;
}

interface Group {
  readonly parts: number;
  readonly refs: Ref[];
  readonly since: number;
}

const log = getLog("store");

/** Serves one Store to any number of ports. */
export class StoreHost {
  readonly #store: Store;
  readonly #tokenTimeoutMs: number;
  readonly #queues = new Map<MessagePort, Queue>();
  #groups = new Map<string, Group>();
  #reads: { port: MessagePort; id: number; q: ReadQuery }[] = [];
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #maintenance: ReturnType<typeof setInterval> | undefined;
  /** Transactions committed (for benchmarks and tests). */
  commits = 0;

  /**
   * `maintenanceMs` (default 60 s, 0 = never): how often expired retained messages are deleted
   * (reads skip them anyway; this gives their space back).
   */
  constructor(store: Store, opts: { tokenTimeoutMs?: number; maintenanceMs?: number } = {}) {
    this.#store = store;
    this.#tokenTimeoutMs = opts.tokenTimeoutMs ?? 5000;
    const every = opts.maintenanceMs ?? 60_000;
    if (every > 0) {
      this.#maintenance = setInterval(() => {
        try {
          store.expireRetained();
        } catch { /* logged by the store; the next round tries again */ }
      }, every);
    }
  }

  /** Serves requests arriving on `port` until it is closed. */
  attach(port: MessagePort): void {
    this.#queues.set(port, { refs: [], base: 0 });
    port.onmessage = (e: MessageEvent<StoreRequest>) => this.#onMessage(port, e.data);
  }

  /** Stops the timer; pending work is dropped (the worker is ending). */
  close(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#maintenance);
    for (const port of this.#queues.keys()) port.close();
    this.#queues.clear();
  }

  #onMessage(port: MessagePort, msg: StoreRequest): void {
    if (msg.t === "read") {
      this.#reads.push({ port, id: msg.id, q: msg.q });
    } else {
      const parts = decodeCommit(msg.packed);
      const pending: Pending = { port, id: msg.id, results: [], left: parts.length };
      if (pending.left === 0) return reply(port, { t: "committed", id: msg.id, results: [] });
      const queue = this.#queues.get(port);
      if (!queue) return;
      parts.forEach((part, index) => {
        const pos = queue.base + queue.refs.length;
        const ref: Ref = { pos, pending, index, batch: part.batch, tokens: part.tokens };
        queue.refs.push(ref);
        for (const token of part.tokens) if (token.parts > 1) this.#join(ref, token);
      });
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      // A macrotask, not a microtask: messages that arrived together commit together.
      setImmediate(() => this.#turn());
    }
  }

  #join(ref: Ref, token: CommitToken): void {
    let g = this.#groups.get(token.key);
    if (!g) this.#groups.set(token.key, g = { parts: token.parts, refs: [], since: Date.now() });
    g.refs.push(ref);
    if (g.refs.length < g.parts) this.#armTimeout();
  }

  #turn(): void {
    this.#scheduled = false;
    const refs = this.#collect();
    if (refs.length > 0) {
      this.commits++;
      const results = this.#store.applyGroup(refs.map((r) => r.batch), { onFull: "release_only" });
      refs.forEach((ref, i) => settle(ref, results[i]!));
    }
    const reads = this.#reads;
    this.#reads = [];
    for (const r of reads) this.#answer(r.port, r.id, r.q);
  }

  /**
   * The parts that may commit now, each port's in order: a port's queue is cut before the
   * first part of a group still waiting for parts (or before a group that is itself cut on
   * another port), until nothing changes.
   */
  #collect(): Ref[] {
    const now = Date.now();
    const blocked = new Set<string>();
    for (const [key, g] of this.#groups) {
      if (g.refs.length >= g.parts) continue;
      if (now - g.since < this.#tokenTimeoutMs) blocked.add(key);
      else {
        log.warn("Commit token {key}: {got} of {parts} parts after {ms} ms; committing them", {
          key,
          got: g.refs.length,
          parts: g.parts,
          ms: now - g.since,
        });
      }
    }
    // cuts: the position before which a port's parts may commit.
    const cuts = new Map<MessagePort, number>();
    for (let changed = true; changed;) {
      changed = false;
      for (const [port, q] of this.#queues) {
        let i = 0;
        while (i < q.refs.length && !isBlocked(q.refs[i]!, blocked)) i++;
        cuts.set(port, q.base + i);
      }
      for (const [key, g] of this.#groups) {
        if (blocked.has(key)) continue;
        if (g.refs.some((r) => r.pos >= cuts.get(r.pending.port)!)) {
          blocked.add(key);
          changed = true;
        }
      }
    }
    const out: Ref[] = [];
    for (const [port, q] of this.#queues) {
      const n = cuts.get(port)! - q.base;
      if (n === 0) continue;
      for (const ref of q.refs.splice(0, n)) {
        out.push(ref);
        for (const token of ref.tokens) this.#groups.delete(token.key);
      }
      q.base += n;
    }
    if (this.#groups.size > 0) this.#armTimeout();
    return out;
  }

  #armTimeout(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#turn();
    }, this.#tokenTimeoutMs + 10);
  }

  #answer(port: MessagePort, id: number, q: ReadQuery): void {
    try {
      const value = this.#read(q);
      if (q.kind === "retained") {
        const packed = packRetainedPage(value as ReadResults["retained"]);
        reply(port, { t: "result", id, value: packed }, [packed.buf.buffer, packed.offsets.buffer]);
      } else reply(port, { t: "result", id, value });
    } catch (e) {
      const err = e instanceof StoreError ? e : new StoreError("io", String(e));
      reply(port, { t: "error", id, code: err.code, message: err.message });
    }
  }

  #read(q: ReadQuery): ReadResults[ReadQuery["kind"]] {
    const s = this.#store;
    const cap = (n: number) => Math.max(1, Math.min(MAX_READ_LIMIT, n));
    switch (q.kind) {
      case "sessions":
        return s.sessions(q.partitions, q.afterSid, cap(q.limit));
      case "outgoing":
        return s.outgoing(q.sid, q.afterSeq, cap(q.limit));
      case "awaitingRel":
        return s.awaitingRel(q.sid);
      case "delayed":
        return s.delayed(q.partitions);
      case "nextKeys":
        return s.nextKeys(q.partitions);
      case "sidOf":
        return s.sidOf(q.clientId);
      case "retained":
        return s.retainedQuery(q.filter, q.cursor, cap(q.limit));
      case "retainedCount":
        return s.retainedCount();
      case "banned":
        return s.security.bannedList(q.after, cap(q.limit));
      case "user":
        return s.security.usersGet(q.userIdType, q.userId);
      case "users":
        return s.security.usersList(q.userIdType, q.afterId, cap(q.limit));
      case "acl":
        return s.security.aclRulesGet(q.whoType, q.who);
      case "acls":
        return s.security.aclRulesList(q.whoType, q.afterWho, cap(q.limit));
      case "health":
        return s.health();
    }
  }
}

function isBlocked(ref: Ref, blocked: ReadonlySet<string>): boolean {
  if (blocked.size === 0) return false;
  for (const token of ref.tokens) if (blocked.has(token.key)) return true;
  return false;
}

function settle(ref: Ref, r: PartResult | StoreError): void {
  const p = ref.pending;
  p.results[ref.index] = r instanceof StoreError ? { code: r.code, message: r.message } : r;
  if (--p.left === 0) reply(p.port, { t: "committed", id: p.id, results: p.results });
}

function reply(port: MessagePort, msg: StoreReply, transfer: Transferable[] = []): void {
  port.postMessage(msg, transfer);
}
