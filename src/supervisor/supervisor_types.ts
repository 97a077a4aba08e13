/**
 * The public face of a running node's supervisor: the Supervisor interface that
 * startSupervisor() (supervisor.ts) returns, and its start options. Types only.
 */

import type { Config } from "../config/types.ts";
import type { ApiServer } from "../api/mod.ts";
import type { BrokerControl } from "./broker_control.ts";
import type { ListenAddress } from "./listener.ts";
import type { ListenerAction, ListenerActionResult } from "./_listener_switch.ts";
import type { ReloadResult } from "./reload.ts";

/** A running broker node's supervisor. */
export interface Supervisor {
  /** Where each listener listens, by listener name ("tcp:default"). */
  readonly addresses: ReadonlyMap<string, ListenAddress>;
  /** Open client sockets. */
  readonly connectionCount: number;
  /** The node's control plane (clients, publish, stats...), answered by the shards. */
  readonly control: BrokerControl;
  /** The HTTP API and dashboard server (null before start or when no dashboard listener). */
  readonly api: ApiServer | null;
  /** Stops accepting, lets shards finish, flushes and closes sockets, ends the workers. */
  stop(): Promise<void>;
  /** SIGHUP: TLS listeners re-read their certificate files; open connections keep theirs. */
  reloadCertificates(): void;
  /** The configuration in effect (changes with reload() and applyConfig()). */
  readonly config: Config;
  /**
   * SIGHUP and `culex ctl conf reload`: re-reads the configuration through the `reloadSource`
   * given at start and applies what can change at run time (src/supervisor/reload.ts). Throws
   * (nothing changed) when it does not load, or when there is no reloadSource.
   */
  reload(): Promise<ReloadResult>;
  /** `PUT /configs`: applies a loaded Config as reload() does. */
  applyConfig(next: Config): Promise<ReloadResult>;
  /**
   * `ctl listeners stop|start|restart` and `POST /listeners/{id}/...`: one MQTT listener at run
   * time (src/supervisor/_listener_switch.ts).
   */
  listenerAction(
    id: string,
    action: ListenerAction,
    idempotent?: boolean,
  ): Promise<ListenerActionResult>;
}

/** Options of startSupervisor(). */
export interface StartSupervisorOptions {
  /** Module of the shard worker; default workers/shard.ts (tests pass a stand-in). */
  workerUrl?: string | URL;
  /**
   * Serve `culex ctl|ping|pid|stop` on `<node.data_dir>/culex.sock` (and write the pid file).
   * Off by default so that in-process tests need no data directory; the CLI turns it on.
   */
  controlSocket?: boolean;
  /**
   * How reload() re-reads the configuration (the CLI: the same file, env and flags); `extra`
   * are `key=value` sets laid over it (`PUT /api/v5/configs`).
   */
  reloadSource?: (extra?: readonly string[]) => Config;
  /** What `culex stop` does; default: SIGTERM to this process, as a service manager would. */
  requestStop?: () => void;
}
