/**
 * ListenerSwitch: stops, starts and restarts one MQTT listener of a running node (`culex ctl
 * listeners stop|start|restart <Id>`, `POST /api/v5/listeners/{id}/stop|start|restart`).
 * Stopping closes the listener's server and the connections it accepted, as EMQX's
 * `emqx_listeners:stop_listener` does (esockd and ranch take the listener's connections down
 * with it); every other listener and its connections are untouched. Starting binds the
 * listener's configured address again (a configured listener with `enable = false` may be
 * started too: the operator asked for it). The change lasts until the node stops: the config
 * file is not rewritten. Actions on one listener run one after the other. Also opens the
 * listeners at the node's start, has them re-read their certificates (SIGHUP) and lists every
 * configured listener with its state (GET /api/v5/listeners). Private to src/supervisor/; owns no
 * listener, only the order of actions on them.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import type { ListenerInfo } from "../api/mod.ts";
import type { ListenAddress, Listener } from "./listener.ts";

const log = getLogger(["culex", "supervisor"]);

/** Bound on waiting for a stopped listener's sockets to close before going on. */
const CLOSE_WAIT_MS = 2000;

/** What can be done to a listener. */
export type ListenerAction = "start" | "stop" | "restart";

/**
 * The outcome: done, or why not. `unknown` = no such listener in the configuration;
 * `not_found` = stop of a listener that is not running (EMQX's esockd word);
 * `already_started` = start of a running one; other text = the bind failure.
 */
export type ListenerActionResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string };

/** What the switch needs of the node. */
export interface ListenerSwitchHost {
  config(): Config;
  /** Every listener built so far, running or stopped (the node's own array). */
  readonly listeners: Listener[];
  /** Where each running listener listens (the node's own map). */
  readonly addresses: Map<string, ListenAddress>;
  /** Builds the listener `type:name` from its configuration (reads TLS files; may throw). */
  create(type: string, name: string): Listener;
  /** Closes every connection accepted by listener `id`. */
  closeConnectionsOf(id: string): void;
  /** The node is stopping: nothing may start. */
  stopping(): boolean;
}

/** See the file header. */
export class ListenerSwitch {
  readonly #host: ListenerSwitchHost;
  /** Per listener id, the last action queued (so two actions never interleave). */
  readonly #queue = new Map<string, Promise<unknown>>();

  constructor(host: ListenerSwitchHost) {
    this.#host = host;
  }

  /** At the node's start: opens `listeners` one after the other; a bind failure throws. */
  async openAll(listeners: readonly Listener[]): Promise<void> {
    for (const listener of listeners) {
      this.#host.listeners.push(listener);
      this.#listening(listener.name, await listener.start());
    }
  }

  /** SIGHUP: TLS listeners re-read their certificate files; open connections keep theirs. */
  reloadCertificates(): void {
    for (const l of this.#host.listeners) {
      try {
        l.reload();
        if (l.name.startsWith("ssl:") || l.name.startsWith("wss:")) {
          log.info("Listener {name} reloaded its certificates", { name: l.name });
        }
      } catch (err) {
        log.error("Listener {name} keeps its certificates: {error}", {
          name: l.name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  /** The MQTT listeners for GET /api/v5/listeners. */
  info(): ListenerInfo[] {
    // Every configured listener, as EMQX lists them: disabled or stopped ones too (not running).
    const byType = this.#host.config().listeners as unknown as Record<
      string,
      Record<string, { enable: boolean; bind: string; maxConnections: number }>
    >;
    return Object.entries(byType).flatMap(([type, byName]) =>
      Object.entries(byName).map(([name, cfg]) => {
        const id = `${type}:${name}`;
        const addr = this.#host.addresses.get(id);
        return {
          id,
          bind: addr ? `${addr.host}:${addr.port}` : cfg.bind,
          enable: cfg.enable,
          running: addr !== undefined && !this.#host.stopping(),
          currentConnections: this.#host.listeners.find((l) => l.name === id)?.connectionCount ??
            0,
          maxConnections: cfg.maxConnections,
        };
      })
    );
  }

  /** Whether `id` ("tcp:default") names a listener of the configuration. */
  configured(id: string): boolean {
    const [type = "", name = ""] = id.split(":");
    const byType = (this.#host.config().listeners as unknown as Record<string, unknown>)[type];
    return id.split(":").length === 2 && typeof byType === "object" && byType !== null &&
      Object.hasOwn(byType, name);
  }

  /**
   * Runs `action` on listener `id`. `idempotent` (the HTTP API's way: it sets the wanted state)
   * makes stop of a stopped and start of a running listener succeed; otherwise they fail with
   * `not_found` / `already_started` as `emqx ctl` reports them.
   */
  run(id: string, action: ListenerAction, idempotent = false): Promise<ListenerActionResult> {
    const prev = this.#queue.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.#run(id, action, idempotent));
    const tail = next.catch(() => {});
    this.#queue.set(id, tail);
    void tail.then(() => {
      if (this.#queue.get(id) === tail) this.#queue.delete(id);
    });
    return next;
  }

  async #run(
    id: string,
    action: ListenerAction,
    idempotent: boolean,
  ): Promise<ListenerActionResult> {
    if (!this.configured(id)) return { ok: false, error: "unknown" };
    const running = this.#host.addresses.has(id);
    if (action === "stop" || action === "restart") {
      if (running) await this.#stop(id);
      else if (action === "stop") return idempotent ? { ok: true } : fail("not_found");
    }
    if (action === "start" && running) return idempotent ? { ok: true } : fail("already_started");
    if (action === "start" || action === "restart") return await this.#start(id);
    return { ok: true };
  }

  async #stop(id: string): Promise<void> {
    const l = this.#host.listeners.find((x) => x.name === id);
    this.#host.addresses.delete(id);
    if (!l) return;
    // The server stops accepting first, then its connections go: none can slip in between.
    const closed = l.stop();
    this.#host.closeConnectionsOf(id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      closed,
      new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
    ]);
    clearTimeout(timer);
    log.info("Listener {id} stopped", { id });
  }

  async #start(id: string): Promise<ListenerActionResult> {
    if (this.#host.stopping()) return fail("the node is stopping");
    let l = this.#host.listeners.find((x) => x.name === id);
    try {
      if (!l) {
        const [type = "", name = ""] = id.split(":");
        l = this.#host.create(type, name);
        this.#host.listeners.push(l);
      }
      this.#listening(id, await l.start());
      return { ok: true };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error("Listener {id} did not start: {error}", { id, error });
      return fail(error);
    }
  }

  #listening(id: string, addr: ListenAddress): void {
    this.#host.addresses.set(id, addr);
    // Exact text: tests and operators read the real port from this line.
    const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
    log.info(`Listener ${id} listening on ${host}:${addr.port}`);
  }
}

function fail(error: string): ListenerActionResult {
  return { ok: false, error };
}
