/**
 * Helpers of the shard's control methods (private to src/shard/): the reply and error types,
 * paging, parameter reading and time formatting shared by control.ts and _control_clients.ts.
 *
 * @module
 */

import type { ShardServices } from "./shard_services.ts";

/** A method's answer: ok with a JSON body, or an error message. */
export interface ControlReply {
  readonly ok: boolean;
  readonly body: string;
}

/** Thrown by a method for a bad request (the reply carries the message). */
export class ControlError extends Error {}

/** One method: parameters (parsed JSON) → result (serialised as JSON). */
export type ControlMethod = (svc: ShardServices, params: Record<string, unknown>) => unknown;

/** A paged slice of a shard's list: the items at [offset, offset + limit) and the total. */
export interface Page<T> {
  readonly total: number;
  readonly items: T[];
}

/** Slices an iterable after filtering, counting every match (for meta.count). */
export function page<T, R>(
  all: Iterable<T>,
  params: Record<string, unknown>,
  keep: (x: T) => boolean,
  show: (x: T) => R,
): Page<R> {
  const offset = num(params.offset, 0);
  const limit = num(params.limit, 100);
  let total = 0;
  const items: R[] = [];
  for (const x of all) {
    if (!keep(x)) continue;
    if (total >= offset && items.length < limit) items.push(show(x));
    total++;
  }
  return { total, items };
}

/** A non-negative integer parameter, or the default. */
export function num(v: unknown, dflt: number): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : dflt;
}

/** A string parameter, required. */
export function str(v: unknown, name: string): string {
  if (typeof v !== "string") throw new ControlError(`${name} must be a string`);
  return v;
}

/** An ISO 8601 time for an epoch-ms instant, null for 0 (EMQX's RFC 3339 fields). */
export function isoTime(ms: number): string | null {
  return ms > 0 ? new Date(ms).toISOString() : null;
}
