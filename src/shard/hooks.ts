/**
 * Hooks: the named points where features attach to a shard's client and message paths, in EMQX's
 * vocabulary (emqx_hookpoints). Every point is declared once below with its callback type;
 * callbacks run in priority order (higher first, then in the order added). A callback that throws
 * (or whose promise rejects) is logged and skipped: one broken feature never breaks a client.
 * Notification points return nothing; fold points carry a value through the callbacks, any of
 * which may replace it or stop the chain. Owns the callback lists only; what a callback does is
 * its module's business.
 *
 * @module
 */

import type { ClientAcl } from "../auth/mod.ts";
import type { Message } from "../mqtt/mod.ts";

/** Who a hook is about: the facts of one client connection. */
export interface ClientFacts {
  readonly clientId: string;
  readonly username: string | undefined;
  /** "ip:port" as the broker sees it. */
  readonly peer: string;
  /** Listener name, e.g. "tcp:default". */
  readonly listener: string;
  readonly protocolVersion: number;
  /** Keepalive in seconds as agreed (0 before CONNACK). */
  readonly keepalive: number;
  readonly cleanStart: boolean;
  /** The listener's zone ("default" unless it names one). */
  readonly zone: string;
  /** Authenticated as a superuser (authorization is skipped). */
  readonly superuser: boolean;
  /** The client's own ACL handed over by authentication (JWT `acl` claim, HTTP `acl`). */
  readonly acl?: ClientAcl | undefined;
  readonly certCommonName?: string | undefined;
  readonly certSubject?: string | undefined;
  /** A browser cookie offered by a WebSocket upgrade (cookie authentication). */
  readonly cookie?: string | undefined;
}

/** Where a message entered the broker. */
export type PublishSource = "client" | "will" | "delayed" | "sys" | "api";

/** A publish stopped by a `message.publish` callback, with the reason to acknowledge with. */
export interface PublishVerdict {
  /** MQTT 5 reason code for PUBACK/PUBREC (below 0x80 = accepted, e.g. held for later). */
  readonly reasonCode: number;
  readonly reason: string;
}

/** The credentials a CONNECT presented, for `client.authenticate`. */
export interface Credentials {
  readonly password: Uint8Array | undefined;
}

/** The running answer of `client.authenticate` (EMQX: ignore, ok, error). */
export type AuthnDecision =
  | { readonly result: "ignore" }
  | {
    readonly result: "allow";
    readonly superuser: boolean;
    /** Epoch ms after which the client is disconnected (JWT exp): MQTT 5 0x87, as EMQX. */
    readonly expireAt?: number;
    readonly acl?: ClientAcl;
  }
  | { readonly result: "deny"; readonly reasonCode: number; readonly reason: string };

/** What a client asks to do, for `client.authorize`. */
export interface AuthzAction {
  readonly type: "publish" | "subscribe";
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

/** The running answer of `client.authorize`; "nomatch" falls to `authorization.no_match`. */
export type AuthzDecision = "allow" | "deny" | "nomatch";

/** A fold callback's answer: undefined keeps the value and goes on. */
export type FoldStep<T> = { readonly stop: boolean; readonly value: T } | undefined;

/** Every hook point and the shape of its callbacks. */
export interface HookCallbacks {
  "client.connect": (client: ClientFacts) => void;
  "client.connack": (client: ClientFacts, reasonCode: number) => void;
  "client.connected": (client: ClientFacts) => void;
  "client.disconnected": (client: ClientFacts, reason: string) => void;
  "client.authenticate": (
    client: ClientFacts,
    credentials: Credentials,
    acc: AuthnDecision,
  ) => FoldStep<AuthnDecision> | Promise<FoldStep<AuthnDecision>>;
  "client.authorize": (
    client: ClientFacts,
    action: AuthzAction,
    acc: AuthzDecision,
  ) => FoldStep<AuthzDecision> | Promise<FoldStep<AuthzDecision>>;
  "session.subscribed": (client: ClientFacts, filter: string, qos: number) => void;
  "session.unsubscribed": (client: ClientFacts, filter: string) => void;
  /** Every publish, whatever its source: return a Message to rewrite it, a verdict to stop it. */
  "message.publish": (message: Message, source: PublishSource) => Message | PublishVerdict | void;
  "message.delivered": (clientId: string, message: Message) => void;
  "message.acked": (clientId: string, message: Message) => void;
  "message.dropped": (message: Message, reason: string) => void;
}

/** A hook point's name. */
export type HookPoint = keyof HookCallbacks;

/** The hook points, in one list (for docs and checks). */
export const HOOK_POINTS: readonly HookPoint[] = [
  "client.connect",
  "client.connack",
  "client.connected",
  "client.disconnected",
  "client.authenticate",
  "client.authorize",
  "session.subscribed",
  "session.unsubscribed",
  "message.publish",
  "message.delivered",
  "message.acked",
  "message.dropped",
];

type NotifyPoint =
  | "client.connect"
  | "client.connack"
  | "client.connected"
  | "client.disconnected"
  | "session.subscribed"
  | "session.unsubscribed"
  | "message.delivered"
  | "message.acked"
  | "message.dropped";

type FoldPoint = "client.authenticate" | "client.authorize";

// deno-lint-ignore ban-types
interface Entry<F extends Function> {
  readonly fn: F;
  readonly priority: number;
  readonly name: string;
}

/** Reports a callback that threw: hook point, callback name, the error. */
export type HookFailure = (point: HookPoint, name: string, err: unknown) => void;

/**
 * The hook table of one shard.
 *
 * @example
 * ```ts
 * import { Hooks } from "./hooks.ts";
 * import assert from "node:assert/strict";
 * const hooks = new Hooks(() => {});
 * const seen: string[] = [];
 * hooks.add("client.connected", (c) => void seen.push(c.clientId), { name: "log" });
 * hooks.run("client.connected", {
 *   clientId: "c1", username: undefined, peer: "127.0.0.1:1", listener: "tcp:default",
 *   protocolVersion: 5, keepalive: 60, cleanStart: true, zone: "default", superuser: false,
 * });
 * assert.ok(seen[0] === "c1");
 * ```
 */
export class Hooks {
  readonly #lists = new Map<HookPoint, Entry<HookCallbacks[HookPoint]>[]>();
  readonly #onFailure: HookFailure;

  constructor(onFailure: HookFailure) {
    this.#onFailure = onFailure;
  }

  /** Adds a callback; higher priority runs first, equal ones in the order added. */
  add<P extends HookPoint>(
    point: P,
    fn: HookCallbacks[P],
    opts: { priority?: number; name?: string } = {},
  ): void {
    const list = this.#lists.get(point) ?? [];
    const entry = { fn, priority: opts.priority ?? 0, name: opts.name ?? (fn.name || "anonymous") };
    let at = list.length;
    while (at > 0 && list[at - 1]!.priority < entry.priority) at--;
    list.splice(at, 0, entry);
    this.#lists.set(point, list);
  }

  /** Removes a callback added before; false when it was not there. */
  remove<P extends HookPoint>(point: P, fn: HookCallbacks[P]): boolean {
    const list = this.#lists.get(point);
    const at = list?.findIndex((e) => e.fn === fn) ?? -1;
    if (at < 0) return false;
    list!.splice(at, 1);
    return true;
  }

  /** True when at least one callback is on `point` (lets callers skip building arguments). */
  has(point: HookPoint): boolean {
    return (this.#lists.get(point)?.length ?? 0) > 0;
  }

  /** Runs a notification point. */
  run<P extends NotifyPoint>(point: P, ...args: Parameters<HookCallbacks[P]>): void {
    const list = this.#lists.get(point);
    if (list === undefined) return;
    for (const e of list) {
      try {
        (e.fn as (...a: Parameters<HookCallbacks[P]>) => void)(...args);
      } catch (err) {
        this.#onFailure(point, e.name, err);
      }
    }
  }

  /**
   * Runs `message.publish`: the message as the callbacks left it, or the verdict of the one that
   * stopped it.
   */
  publish(message: Message, source: PublishSource): Message | PublishVerdict {
    const list = this.#lists.get("message.publish");
    if (list === undefined) return message;
    let m = message;
    for (const e of list) {
      let out: Message | PublishVerdict | void;
      try {
        out = (e.fn as HookCallbacks["message.publish"])(m, source);
      } catch (err) {
        this.#onFailure("message.publish", e.name, err);
        continue;
      }
      if (out === undefined) continue;
      if ("reasonCode" in out) return out;
      m = out;
    }
    return m;
  }

  /**
   * Runs a fold point whose callbacks may answer later. Stays synchronous (no promise, no
   * microtask) while every callback answers synchronously, so a cached decision costs nothing.
   */
  fold<P extends FoldPoint>(
    point: P,
    acc: FoldValue<P>,
    ...args: FoldArgs<P>
  ): FoldValue<P> | Promise<FoldValue<P>> {
    const list = this.#lists.get(point) as Entry<FoldFn<P>>[] | undefined;
    if (list === undefined) return acc;
    return this.#foldFrom(point, list, 0, acc, args);
  }

  #foldFrom<P extends FoldPoint>(
    point: P,
    list: readonly Entry<FoldFn<P>>[],
    start: number,
    acc: FoldValue<P>,
    args: FoldArgs<P>,
  ): FoldValue<P> | Promise<FoldValue<P>> {
    for (let i = start; i < list.length; i++) {
      const e = list[i]!;
      let out: FoldStep<FoldValue<P>> | Promise<FoldStep<FoldValue<P>>>;
      try {
        out = e.fn(...args, acc);
      } catch (err) {
        this.#onFailure(point, e.name, err);
        continue;
      }
      if (out instanceof Promise) {
        return out.then(
          (step) =>
            step?.stop ? step.value : this.#foldFrom(point, list, i + 1, step?.value ?? acc, args),
          (err) => {
            this.#onFailure(point, e.name, err);
            return this.#foldFrom(point, list, i + 1, acc, args);
          },
        );
      }
      if (out === undefined) continue;
      if (out.stop) return out.value;
      acc = out.value;
    }
    return acc;
  }
}

type FoldValue<P extends FoldPoint> = P extends "client.authenticate" ? AuthnDecision
  : AuthzDecision;
type FoldArgs<P extends FoldPoint> = P extends "client.authenticate" ? [ClientFacts, Credentials]
  : [ClientFacts, AuthzAction];
type FoldFn<P extends FoldPoint> = (
  ...a: [...FoldArgs<P>, FoldValue<P>]
) => FoldStep<FoldValue<P>> | Promise<FoldStep<FoldValue<P>>>;
