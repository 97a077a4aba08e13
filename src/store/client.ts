/**
 * StoreClient: a shard's (or the supervisor's) end of the store worker protocol over one
 * MessagePort. `commit` sends a pass's batch (and token parts) and calls back once the worker
 * answered; `read` asks one page. Callbacks, not awaits, so a Channel can turn the answer into
 * an event (the shard's async seam); `readAsync` is for start-up code and tests. Owned by
 * src/store/; holds no store state, only the callbacks of requests in flight.
 */

import { encodeCommit } from "./_commit_codec.ts";
import { StoreError } from "./errors.ts";
import { type PackedRetainedPage, unpackRetainedPage } from "./protocol.ts";
import type {
  CommitPart,
  PartResult,
  ReadQuery,
  ReadResults,
  StoreReply,
  StoreRequest,
} from "./protocol.ts";
import type { WireBatch } from "./types.ts";

type Waiter = (reply: StoreReply) => void;

/** One port to the store worker. */
export class StoreClient {
  readonly #port: MessagePort;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;

  constructor(port: MessagePort) {
    this.#port = port;
    port.onmessage = (e: MessageEvent<StoreReply>) => {
      const waiter = this.#waiting.get(e.data.id);
      if (!waiter) return;
      this.#waiting.delete(e.data.id);
      waiter(e.data);
    };
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.#waiting.size;
  }

  /**
   * Sends parts to commit (a plain batch is one part). `done` gets one result per part, in
   * order: an ApplyResult, or `{ code, message }` when refused (code "full": answer PUBACK 0x97).
   * Returns the request id.
   */
  commit(parts: readonly CommitPart[] | WireBatch, done: (results: PartResult[]) => void): number {
    const list = Array.isArray(parts)
      ? parts as readonly CommitPart[]
      : [{ batch: parts as WireBatch }];
    const { packed, spans } = encodeCommit(list);
    return this.#send((id) => ({ t: "commit", id, packed }), (r) => {
      if (r.t === "committed") done(expand(r.results, spans, list.length));
      else {
        const refusal = { code: r.t === "error" ? r.code : "io" as const, message: "bad reply" };
        done(list.map(() => refusal));
      }
    });
  }

  /** Asks one read; `done` gets its value or a StoreError. Returns the request id. */
  read<K extends ReadQuery["kind"]>(
    q: Extract<ReadQuery, { kind: K }>,
    done: (r: ReadResults[K] | StoreError) => void,
  ): number {
    return this.#send((id) => ({ t: "read", id, q }), (r) => {
      if (r.t === "result") {
        const v = q.kind === "retained"
          ? unpackRetainedPage(r.value as PackedRetainedPage)
          : r.value;
        done(v as ReadResults[K]);
      } else if (r.t === "error") done(new StoreError(r.code, r.message));
      else done(new StoreError("io", "The store worker answered a read with a commit reply"));
    });
  }

  /** `read` as a Promise that rejects with the StoreError. */
  readAsync<K extends ReadQuery["kind"]>(
    q: Extract<ReadQuery, { kind: K }>,
  ): Promise<ReadResults[K]> {
    return new Promise((resolve, reject) => {
      this.read(q, (r) => r instanceof StoreError ? reject(r) : resolve(r as ReadResults[K]));
    });
  }

  /** `commit` as a Promise of its part results. */
  commitAsync(parts: readonly CommitPart[] | WireBatch): Promise<PartResult[]> {
    return new Promise((resolve) => this.commit(parts, resolve));
  }

  /** Closes the port; callbacks of requests in flight are never called. */
  close(): void {
    this.#waiting.clear();
    this.#port.close();
  }

  #send(make: (id: number) => StoreRequest, waiter: Waiter): number {
    const id = this.#nextId++;
    this.#waiting.set(id, waiter);
    const msg = make(id);
    // A packed commit's buffer moves to the worker (no copy); this side keeps no view of it.
    if (msg.t === "commit") this.#port.postMessage(msg, [msg.packed.buf.buffer]);
    else this.#port.postMessage(msg);
    return id;
  }
}

/** One result per part sent: a merged wire part's result is each of its parts' (_commit_codec.ts). */
function expand(
  results: readonly PartResult[],
  spans: readonly number[],
  parts: number,
): PartResult[] {
  if (spans.length === parts) return [...results];
  const out: PartResult[] = [];
  for (let i = 0; i < spans.length; i++) {
    const r = results[i]!;
    for (let n = spans[i]!; n > 0; n--) out.push(r);
  }
  return out;
}
