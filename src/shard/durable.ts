/**
 * ShardStore: a shard's one end of the durable store, per docs/store.md "How the lead wires
 * it": durable sessions (`durable_sessions.enable`), retained messages on disc
 * (`retainer.backend.storage_type: disc`, retained_disc.ts) and delayed messages kept in the
 * store (delayed.ts) all write through it. During a pass, handlers, sessions, the disc retainer
 * and the delayed heap add ops to the current StoreBatch part and register what must wait for
 * the commit (a PUBACK, a CONNACK, a PUBLISH to a persistent subscriber); at the end of the pass
 * `flush()` sends every part in one commit request, then the reads asked during the pass (so
 * they see that commit). The shard's loop calls `flush()` with its ring flushes; the first use
 * in a pass also schedules it in a microtask, so writes made outside a loop pass (a timer, a
 * test) are committed too. Replies come back as events through the WorkQueue, in order. A QoS
 * 1/2 publish that goes to other shards gets a commit token (durable mode only): the part of
 * this shard's pass and the part of each destination's pass that has the publish's ops carry
 * that token, and the store worker commits them in one transaction. A pass sends one part,
 * with every token it joined (made for its publishes, or brought by routed records).
 *
 * Exists only when something of the shard is stored (durable mode or a disc retainer): memory
 * mode with a ram retainer has none, so nothing of this runs on its hot path. Owns the per-pass
 * parts, the callbacks waiting on them, and the shard's key counters (sids and delayed ids).
 */

import type { Logger } from "@logtape/logtape";
import {
  type CommitPart,
  type CommitToken,
  isRefusal,
  makeKey,
  type NextKeys,
  type PartResult,
  type ReadQuery,
  type ReadResults,
  StoreBatch,
  type StoreClient,
  StoreError,
} from "../store/mod.ts";
import type { WorkQueue } from "./work_queue.ts";

/** A commit's answer for one waiter: null when committed, else why it was refused. */
export type CommitOutcome = null | { readonly code: string; readonly message: string };

/** How long the store may refuse writes before the next "full" warning. */
const FULL_LOG_MS = 60_000;

/** What waits for a commit: the outcome, and the part's own result (e.g. `retainRefused`). */
export type CommitWaiter = (r: CommitOutcome, result?: PartResult) => void;

interface Waiter {
  readonly part: number;
  readonly run: CommitWaiter;
}

/** A commit sent: its parts, who waits on it, and its answer once it came. */
interface SentCommit {
  readonly parts: CommitPart[];
  readonly waiters: Waiter[];
  answered: boolean;
  results: PartResult[] | null;
}

interface PendingRead {
  readonly q: ReadQuery;
  readonly done: (r: unknown) => void;
}

/** See the file header. */
export class ShardStore {
  readonly client: StoreClient;
  readonly #work: WorkQueue;
  readonly #log: Logger;
  readonly #index: number;
  readonly #onRefused: (o: { code: string; message: string }) => void;
  /** Durable sessions are on: persistent sessions and commit tokens (else only retained/delayed). */
  readonly durable: boolean;
  #batch = new StoreBatch();
  /** A flush is scheduled in a microtask (see the file header). */
  #scheduled = false;
  /** Parts closed so far: the current part's identity for `partId`. */
  #partSeq = 0;
  /** The commit tokens of the current part (it commits with every other part of each). */
  #tokens: CommitToken[] = [];
  /** Between `joinShards`/`beginToken` and `endToken`: a flush would split a publish. */
  #inToken = false;
  /** Ops of closed parts and tokens ever joined: with the current part's size, `mark`. */
  #written = 0;
  /** Inside a client's QoS 1/2 publish that has no token (yet). */
  #publishing = false;
  #parts: CommitPart[] = [];
  #waiters: Waiter[] = [];
  #reads: PendingRead[] = [];
  #nextKey = new Map<number, number>();
  #tokenCount = 0;
  #fullLoggedAt = -Infinity;
  /** Commits sent, oldest first; their waiters run in this order whatever order answers come. */
  #sent: SentCommit[] = [];
  #idle: (() => void)[] = [];

  /**
   * @param durable durable sessions on (`durable_sessions.enable`)
   * @param onRefused called once per refused part (after the log): the shard's metrics count it
   */
  constructor(
    client: StoreClient,
    work: WorkQueue,
    log: Logger,
    index: number,
    durable: boolean,
    onRefused: (o: { code: string; message: string }) => void = () => {},
  ) {
    this.client = client;
    this.#work = work;
    this.#log = log;
    this.#index = index;
    this.durable = durable;
    this.#onRefused = onRefused;
  }

  /** The part ops go into now; using it schedules the pass's commit. */
  get batch(): StoreBatch {
    if (!this.#scheduled) this.#schedule();
    return this.#batch;
  }

  /** Ops in the current part, not sent yet (does not schedule anything). */
  get size(): number {
    return this.#batch.size;
  }

  /** Identity of the part ops go into now: one waiter per part is enough for its result. */
  get partId(): number {
    return this.#partSeq;
  }

  /** Something to remember what was written: compare with `wroteSince`. */
  mark(): number {
    return this.#written + this.#batch.size;
  }

  /** True when ops or parts were added after `mark`. */
  wroteSince(mark: number): boolean {
    return this.mark() !== mark;
  }

  /** The next free key counters of this shard's partitions (read at load). */
  setKeys(keys: NextKeys): void {
    for (const [p, n] of Object.entries(keys)) this.#nextKey.set(Number(p), n);
  }

  /** A new partitioned key (a session's sid) in `partition`. */
  newKey(partition: number): number {
    const n = this.#nextKey.get(partition) ?? 1;
    this.#nextKey.set(partition, n + 1);
    return makeKey(partition, n);
  }

  /**
   * A destination shard's ops for one routed publish (the token came with the record): the
   * current part joins the token, and is sent even when empty (the token counts it).
   */
  beginToken(token: CommitToken): void {
    this.#join(token);
  }

  /**
   * The publishing shard starts a client's QoS 1/2 publish: a token is made only if the broker
   * routes it to other shards (`joinShards`); otherwise its ops stay in the current part.
   */
  openPublish(): void {
    this.#publishing = true;
  }

  /**
   * The publish being routed goes to `shards` other shards: the current part gets a token that
   * the destinations' parts join, so its ops (all of the pass's part, the publish's among them)
   * commit in one transaction with theirs. Null when there is none to join.
   */
  joinShards(shards: number): CommitToken | null {
    if (!this.#publishing || shards === 0) return null;
    this.#publishing = false;
    const token = { key: `${this.#index}:${++this.#tokenCount}`, parts: 1 + shards };
    this.#join(token);
    return token;
  }

  /** Ends the publish or the routed record that joined a token (no flush in between). */
  endToken(): void {
    this.#publishing = false;
    this.#inToken = false;
  }

  /**
   * One part per pass carries every token joined in the pass: a part per routed publish on
   * both shards was an object, a batch and a result each, and a tenth of the store worker's
   * time in fan-in (bench/README.md, "Durable sessions"). The part then commits once every
   * token's other parts came; they never wait for a commit to be sent, so nothing deadlocks.
   */
  #join(token: CommitToken): void {
    if (!this.#scheduled) this.#schedule();
    this.#tokens.push(token);
    this.#inToken = true;
    this.#written++;
  }

  /** Runs `run` once the ops added so far are committed (or refused), in a later pass. */
  after(run: CommitWaiter): void {
    if (!this.#scheduled) this.#schedule();
    // The index the current part will have once closed (nothing is pushed before it closes),
    // or the last closed part when the current one is empty (no ops, no token).
    const n = this.#parts.length;
    const current = this.#batch.size > 0 || this.#tokens.length > 0;
    this.#waiters.push({ part: current ? n : n - 1, run });
  }

  /** `after` as a Promise (for Channel.suspendUntil). */
  committed(): Promise<CommitOutcome> {
    return new Promise((resolve) => this.after(resolve));
  }

  /** A read sent after this pass's commit, answered in a later pass. */
  read<K extends ReadQuery["kind"]>(
    q: Extract<ReadQuery, { kind: K }>,
    done: (r: ReadResults[K] | StoreError) => void,
  ): void {
    if (!this.#scheduled) this.#schedule();
    this.#reads.push({ q, done: done as (r: unknown) => void });
  }

  /** `read` as a Promise that rejects with the StoreError. */
  readAsync<K extends ReadQuery["kind"]>(
    q: Extract<ReadQuery, { kind: K }>,
  ): Promise<ReadResults[K]> {
    return new Promise((resolve, reject) =>
      this.read(q, (r) => r instanceof StoreError ? reject(r) : resolve(r as ReadResults[K]))
    );
  }

  /** Runs `then` with the value of `p` in a later pass of the loop (the WorkQueue). */
  later<T>(p: Promise<T>, then: (v: T) => void): void {
    this.#work.await(p, (o) => {
      if (o.ok) then(o.value);
    });
  }

  /** End of a pass: commits what was added, then sends the reads. */
  flush(): void {
    if (this.#inToken || this.#publishing) return; // never inside a publish
    this.#scheduled = false;
    this.#closePart();
    const parts = this.#parts;
    const waiters = this.#waiters;
    if (parts.length > 0) {
      this.#parts = [];
      this.#waiters = [];
      const sent: SentCommit = { parts, waiters, answered: false, results: null };
      this.#sent.push(sent);
      const answer = new Promise<PartResult[]>((resolve) => this.client.commit(parts, resolve));
      this.#work.await(answer, (o) => {
        sent.answered = true;
        sent.results = o.ok ? o.value : null;
        this.#runAnswered();
      });
    } else if (waiters.length > 0) {
      // Nothing written this pass: they wait only for what is still in flight (order kept).
      this.#waiters = [];
      const last = this.#sent[this.#sent.length - 1];
      if (last) { for (const w of waiters) last.waiters.push({ part: -1, run: w.run }); }
      else this.#work.await(Promise.resolve(), () => waiters.forEach((w) => w.run(null)));
    }
    if (this.#reads.length > 0) {
      const reads = this.#reads;
      this.#reads = [];
      for (const r of reads) {
        const answer = new Promise<unknown>((resolve) => this.client.read(r.q, resolve));
        this.#work.await(answer, (o) => r.done(o.ok ? o.value : new StoreError("io", "lost")));
      }
    }
  }

  /** Resolves once every commit sent so far was answered (shutdown), at most `ms`. */
  drained(ms: number): Promise<void> {
    if (this.#sent.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #closePart(): void {
    if (this.#inToken) return; // ops of a publish stay in its part until endToken
    const size = this.#batch.size;
    if (size > 0 || this.#tokens.length > 0) {
      const tokens = this.#tokens;
      this.#parts.push(
        tokens.length > 0 ? { batch: this.#batch.take(), tokens } : {
          batch: this.#batch.take(),
        },
      );
      if (tokens.length > 0) this.#tokens = [];
      this.#written += size;
      this.#partSeq++;
    }
  }

  /** Runs the waiters of the answered commits at the head of the queue, in order sent. */
  #runAnswered(): void {
    while (this.#sent[0]?.answered) {
      const c = this.#sent.shift()!;
      this.#answered(c.parts, c.waiters, c.results);
    }
    if (this.#sent.length === 0) {
      for (const f of this.#idle.splice(0)) f();
    }
  }

  #answered(parts: CommitPart[], waiters: Waiter[], results: PartResult[] | null): void {
    const outcome = (i: number): CommitOutcome => {
      if (i < 0) return null; // nothing was written before it: nothing to wait for
      const r = results?.[i];
      if (!r) return { code: "io", message: "the store worker did not answer" };
      return isRefusal(r) ? r : null;
    };
    for (let i = 0; i < parts.length; i++) {
      const o = outcome(i);
      if (o) this.#refused(o);
    }
    for (const w of waiters) w.run(outcome(w.part), w.part < 0 ? undefined : results?.[w.part]);
  }

  #schedule(): void {
    this.#scheduled = true;
    queueMicrotask(() => {
      if (this.#scheduled) this.flush();
    });
  }

  #refused(o: { code: string; message: string }): void {
    this.#onRefused(o);
    const now = Date.now();
    if (o.code === "full" && now - this.#fullLoggedAt < FULL_LOG_MS) return;
    if (o.code === "full") this.#fullLoggedAt = now;
    this.#log.error("Store commit refused ({code}): {message}", {
      code: o.code,
      message: o.message,
    });
  }
}
