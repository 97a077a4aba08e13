/**
 * EMQX's paging as BrokerControl answers it: the page query and paged answer, and one page of a
 * list spread over the shards, gathered in shard order. Private to src/supervisor/ (the types are
 * re-exported by broker_control.ts); holds no state.
 */

import type { ShardRpc } from "./shard_rpc.ts";

/** EMQX's paging query: page from 1, limit up to 10,000. */
export interface PageQuery {
  readonly page?: number;
  readonly limit?: number;
}

/** EMQX's paged answer. */
export interface Paged<T> {
  readonly data: T[];
  readonly meta: { page: number; limit: number; count: number; hasnext: boolean };
}

/** A JSON object as the shards answer it (EMQX's field names). */
export type Json = Record<string, unknown>;

/** A slice of a list and the length of the whole list. */
export interface ShardPage {
  readonly total: number;
  readonly items: Json[];
}

/** Largest page, as EMQX. */
export const MAX_PAGE_LIMIT = 10_000;
const DEFAULT_PAGE_LIMIT = 100;

/** The page and limit of `q`, defaulted and bounded. */
export function pageOf(q: PageQuery): { page: number; limit: number } {
  const page = Number.isInteger(q.page) && (q.page ?? 0) >= 1 ? q.page! : 1;
  const asked = Number.isInteger(q.limit) && (q.limit ?? 0) >= 1 ? q.limit! : DEFAULT_PAGE_LIMIT;
  return { page, limit: Math.min(asked, MAX_PAGE_LIMIT) };
}

/** One page of `count` items as EMQX answers it. */
export function paged<T>(data: T[], page: number, limit: number, count: number): Paged<T> {
  return { data, meta: { page, limit, count, hasnext: (page - 1) * limit + data.length < count } };
}

/** Asks the shards for `method`'s items: all of them, or the one shard with `call`. */
export interface ShardLists {
  readonly rpc: ShardRpc;
  /** How many shards the node runs. */
  shards(): number;
}

/**
 * One page of a list spread over the shards, in shard order: first every shard's count (limit
 * 0), then the items from the shards the page falls on.
 */
export async function pageAcross(
  lists: ShardLists,
  method: string,
  query: PageQuery,
  params: Json,
): Promise<Paged<Json>> {
  const { page, limit } = pageOf(query);
  const { total, items } = await sliceAcross(lists, method, params, (page - 1) * limit, limit);
  return paged(items, page, limit, total);
}

/** Items `offset` to `offset + limit` of `method`'s list over the shards in order, and the total. */
export async function sliceAcross(
  lists: ShardLists,
  method: string,
  params: Json,
  offset: number,
  limit: number,
): Promise<ShardPage> {
  const counts = await lists.rpc.gather<ShardPage>(method, { ...params, offset: 0, limit: 0 });
  const total = counts.reduce((n, c) => n + c.total, 0);
  let skip = offset;
  const data: Json[] = [];
  for (let shard = 0; shard < lists.shards() && data.length < limit; shard++) {
    const n = counts[shard]?.total ?? 0;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    const want = limit - data.length;
    const p = await lists.rpc.call<ShardPage>(shard, method, {
      ...params,
      offset: skip,
      limit: want,
    });
    data.push(...p.items);
    skip = 0;
  }
  return { total, items: data };
}
