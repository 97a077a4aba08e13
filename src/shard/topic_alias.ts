/**
 * TopicAliases: the MQTT 5 topic aliases of one connection, both ways (section 3.3.2.3.4). The
 * inbound map is what the client set; the outbound map is what the broker assigned, within the
 * client's Topic Alias Maximum. Both Maps are made on first use: an empty Map costs about 250
 * bytes, and most connections never use aliases. Pure data, owned by one Channel.
 *
 * @module
 */

/** An outbound topic as it goes on the wire: the alias to send, and whether the name is left out. */
export interface OutboundAlias {
  /** 0 = no alias. */
  readonly alias: number;
  /** The client knows the alias already: send an empty topic name. */
  readonly aliasOnly: boolean;
  /** The alias is new: remember it once the PUBLISH is really sent. */
  readonly isNew: boolean;
}

const NONE: OutboundAlias = { alias: 0, aliasOnly: false, isNew: false };

/**
 * Topic aliases of one connection.
 *
 * @example
 * ```ts
 * import { TopicAliases } from "./topic_alias.ts";
 * import assert from "node:assert/strict";
 * const a = new TopicAliases();
 * a.setInbound(1, "x/y");
 * assert.ok(a.inbound(1) === "x/y");
 * const first = a.outbound("t", 2);
 * a.commit("t", first);
 * assert.ok(first.alias === 1 && !first.aliasOnly && a.outbound("t", 2).aliasOnly);
 * ```
 */
export class TopicAliases {
  #inbound: Map<number, string> | null = null;
  #outbound: Map<string, number> | null = null;

  /** The topic an inbound alias stands for. */
  inbound(alias: number): string | undefined {
    return this.#inbound?.get(alias);
  }

  setInbound(alias: number, topic: string): void {
    (this.#inbound ??= new Map()).set(alias, topic);
  }

  /** How to send `topic` to a client that takes up to `max` aliases (0 = none). */
  outbound(topic: string, max: number): OutboundAlias {
    if (max <= 0) return NONE;
    const known = this.#outbound?.get(topic);
    if (known !== undefined) return { alias: known, aliasOnly: true, isNew: false };
    const used = this.#outbound?.size ?? 0;
    return used < max ? { alias: used + 1, aliasOnly: false, isNew: true } : NONE;
  }

  /** Records a new outbound alias once its PUBLISH went out. */
  commit(topic: string, a: OutboundAlias): void {
    if (a.isNew) (this.#outbound ??= new Map()).set(topic, a.alias);
  }
}
