/**
 * ShardRpc: the supervisor's end of the supervisor → shard request/reply. A request (an id, a
 * method name, JSON parameters) goes to one shard as a Request record; the shard answers with a
 * Reply record carrying the same id. `call` waits for one shard, `gather` asks every shard and
 * collects the answers in shard order. Every request has a timeout; a shard that restarts fails
 * its pending requests at once. Owns the pending-request table only; the records travel through
 * ShardLink, and nothing here reads shard state another way.
 *
 * @module
 */

/** A shard answered with an error, did not answer in time, or went away. */
export class ShardRpcError extends Error {
  constructor(
    readonly shard: number,
    readonly method: string,
    /** Why, without the shard and method. */
    readonly reason: string,
    /** The shard answered with this error (the store refused a change, bad parameters...). */
    readonly answered = false,
  ) {
    super(`Shard ${shard} ${method}: ${reason}`);
    this.name = "ShardRpcError";
  }
}

interface Pending {
  readonly shard: number;
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Sends one Request record to a shard. */
export type SendRequest = (shard: number, id: number, method: string, params: string) => void;

/** Default time a shard has to answer. */
export const DEFAULT_RPC_TIMEOUT_MS = 5000;

/** See the file header. */
export class ShardRpc {
  readonly #send: SendRequest;
  readonly #shards: () => number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  /** @param shards the current number of shards */
  constructor(send: SendRequest, shards: () => number) {
    this.#send = send;
    this.#shards = shards;
  }

  /** Requests waiting for an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Asks one shard; resolves with its answer (parsed JSON), rejects with ShardRpcError. */
  call<T>(
    shard: number,
    method: string,
    params: unknown = {},
    timeoutMs = DEFAULT_RPC_TIMEOUT_MS,
  ): Promise<T> {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_fffe ? 1 : this.#nextId + 1;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ShardRpcError(shard, method, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        shard,
        method,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      this.#send(shard, id, method, JSON.stringify(params));
    });
  }

  /** Asks every shard the same; the answers in shard order. Any failure rejects the whole. */
  gather<T>(
    method: string,
    params: unknown = {},
    timeoutMs = DEFAULT_RPC_TIMEOUT_MS,
  ): Promise<T[]> {
    const calls: Promise<T>[] = [];
    for (let i = 0; i < this.#shards(); i++) calls.push(this.call<T>(i, method, params, timeoutMs));
    return Promise.all(calls);
  }

  /** A Reply record arrived. Late answers (after a timeout) are dropped. */
  reply(id: number, ok: boolean, body: string): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (!ok) {
      p.reject(new ShardRpcError(p.shard, p.method, body, true));
      return;
    }
    try {
      p.resolve(JSON.parse(body));
    } catch (err) {
      p.reject(new ShardRpcError(p.shard, p.method, `bad answer: ${String(err)}`));
    }
  }

  /** Fails every request pending on `shard` (it crashed or the node stops). */
  failShard(shard: number, why: string): void {
    for (const [id, p] of this.#pending) {
      if (p.shard !== shard) continue;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new ShardRpcError(shard, p.method, why));
    }
  }
}
