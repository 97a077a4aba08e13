/**
 * Retained reads: runs a RetainedPlan page by page (keyset paging: a page continues after the
 * last row's ordering key, so reading 1,000,000 rows costs one index walk, not a sort per page)
 * and confirms rows with `matches()` where the SQL alone cannot (levels past 8). Private to src/store/.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { matches } from "../mqtt/mod.ts";
import { returnArrays } from "./errors.ts";
import { planRetained, type RetainedPlan } from "./retained_plan.ts";

/** One retained message as stored: the topic and its encodeMessage() bytes. */
export interface RetainedRow {
  readonly topic: string;
  readonly body: Uint8Array;
}

/** A page of a lookup; `next` continues it (null: done). Cursors are opaque JSON strings. */
export interface RetainedPage {
  readonly rows: RetainedRow[];
  readonly next: string | null;
}

/** Prepared lookups for one connection, cached by SQL text. */
export class RetainedReader {
  readonly #db: DatabaseSync;
  readonly #specs: readonly (readonly number[])[];
  readonly #cache = new Map<string, StatementSync>();
  readonly #plans = new Map<string, RetainedPlan>();

  constructor(db: DatabaseSync, specs: readonly (readonly number[])[]) {
    this.#db = db;
    this.#specs = specs;
  }

  /** The plan of a filter (cached: subscriptions repeat filters). */
  plan(filter: string): RetainedPlan {
    let p = this.#plans.get(filter);
    if (!p) {
      p = planRetained(filter, this.#specs);
      if (this.#plans.size >= 1024) this.#plans.clear();
      this.#plans.set(filter, p);
    }
    return p;
  }

  /**
   * Up to `limit` rows matching `filter` that have not expired at `now`, after `cursor`.
   * A page may hold fewer matches than `limit` (rows are confirmed after the read) and still
   * have a `next`.
   */
  query(filter: string, cursor: string | null, limit: number, now: number): RetainedPage {
    const plan = this.plan(filter);
    const after = cursor === null ? null : parseCursor(cursor, plan.order.length);
    const stmt = this.#statement(plan, after !== null);
    const params = [...plan.params, now, ...(after ?? []), limit];
    // Arrays, not row objects: ten times cheaper in node:sqlite (see _reads.ts).
    const raw = stmt.all(...params) as unknown as (string | number | Uint8Array)[][];
    const rows: RetainedRow[] = [];
    for (const r of raw) {
      const topic = r[0] as string;
      if (!plan.confirm || matches(filter, topic)) rows.push({ topic, body: r[1] as Uint8Array });
    }
    const last = raw[raw.length - 1];
    const next = raw.length < limit || !last || plan.order.length === 0
      ? null
      : JSON.stringify(plan.order.map((c) =>
        (c === "topic" ? last[0] : last[2 + extraColumns(plan).indexOf(c)]) as string | number
      ));
    return { rows, next };
  }

  #statement(plan: RetainedPlan, paged: boolean): StatementSync {
    const key = `${plan.path}|${plan.index}|${plan.where}|${paged}`;
    let st = this.#cache.get(key);
    if (st) return st;
    const cols = ["topic", "body", ...extraColumns(plan)].join(", ");
    // Forced: without statistics SQLite may prefer a level index and sort (measured).
    const indexed = plan.index === null ? " NOT INDEXED" : ` INDEXED BY ${plan.index}`;
    const order = plan.order.length > 0 ? ` ORDER BY ${plan.order.join(", ")}` : "";
    const keyset = paged
      ? ` AND (${plan.order.join(", ")}) > (${plan.order.map(() => "?").join(", ")})`
      : "";
    const sql = `SELECT ${cols} FROM retained${indexed} WHERE ${plan.where}` +
      ` AND (expires_at = 0 OR expires_at > ?)${keyset}${order} LIMIT ?`;
    st = returnArrays(this.#db.prepare(sql));
    if (this.#cache.size >= 256) this.#cache.clear();
    this.#cache.set(key, st);
    return st;
  }
}

/** Ordering columns selected after topic and body. */
function extraColumns(plan: RetainedPlan): string[] {
  return plan.order.filter((c) => c !== "topic");
}

function parseCursor(cursor: string, width: number): (string | number)[] {
  const v: unknown = JSON.parse(cursor);
  if (
    !Array.isArray(v) || v.length !== width ||
    !v.every((x) => typeof x === "string" || typeof x === "number")
  ) {
    throw new TypeError(`Bad retained cursor ${cursor}`);
  }
  return v as (string | number)[];
}
