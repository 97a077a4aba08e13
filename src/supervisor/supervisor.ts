/**
 * Supervisor: the main isolate's lifecycle. Starts the shard pool and the listeners, places each
 * new connection on its shard after peeking at CONNECT for the client id, pumps socket bytes into
 * shard rings and shard records back out to sockets (one doorbell loop for all shard → supervisor
 * rings), and drains everything on stop. Owns every socket and the supervisor's ring ends. Does no
 * MQTT beyond the CONNECT peek and never imports src/shard/.
 */

import { getLogger } from "@logtape/logtape";
import { setImmediate } from "node:timers";
import type { Config } from "../config/types.ts";
import { startForceGc } from "../idle_gc.ts";
import {
  FieldReader,
  readDoorbell,
  RecordKind,
  ringDoorbell,
  type ShardRings,
  waitDoorbell,
} from "../ipc/mod.ts";
import { Connection, type ConnectionEvents } from "./connection.ts";
import type { ListenAddress, Listener, SocketPort } from "./listener.ts";
import { createListener, createListeners } from "./listener_net.ts";
import {
  type ListenerAction,
  type ListenerActionResult,
  ListenerSwitch,
} from "./_listener_switch.ts";
import { ShardPool } from "./shard_pool.ts";
import { ShardLink } from "./_shard_link.ts";
import { ConnectGate } from "./_connect_gate.ts";
import { BrokerControl } from "./broker_control.ts";
import { StoredRetained } from "./retained_view.ts";
import { ShardRpc } from "./shard_rpc.ts";
import { SysPublisher } from "./sys_publisher.ts";
import { type BanEntry, createBanned } from "../auth/mod.ts";
import { ClientPolicy } from "./_client_policy.ts";
import {
  type ApiServer,
  bindApi,
  type BoundApi,
  type ListenerInfo,
  startApi,
  StoreAdminStore,
} from "../api/mod.ts";
import { serveDashboard } from "../dashboard/serve.ts";

import { setupNodeLogging } from "../log.ts";
import { assertDataDirFree, type CtlServer } from "./ctl_server.ts";
import { startNodeCtl } from "./_node_ctl.ts";
import { applyConfig, reloadConfig, type ReloadResult, type ReloadTarget } from "./reload.ts";
import { clusterRecord, type ClusterRuntime, serveNode, startCluster } from "./_cluster_glue.ts";
import { type Cluster, retainClear } from "../cluster/mod.ts";
import { shardOf } from "../ipc/mod.ts";

import { StoreLink } from "./_store_link.ts";
import { clusterTls } from "./_cluster_tls.ts";

const log = getLogger(["culex", "supervisor"]);

/** Records taken from one shard's ring before looking at the next. */
const BATCH = 1024;
/** Bound on waiting for shards to finish their shutdown (wills, DISCONNECTs). */
const SHUTDOWN_TIMEOUT_MS = 5000;
/** Bound on waiting for sockets to flush and close at stop. */
const CLOSE_TIMEOUT_MS = 2000;
/** At stop, shard output is drained until the rings stay silent this long. */
const QUIET_MS = 50;

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

/**
 * Starts the shards, then every enabled listener (tcp, ssl, ws, wss); each logs
 * `Listener <type>:<name> listening on <host>:<port>`. On failure everything started is stopped.
 *
 * @example
 * ```ts ignore
 * const supervisor = await startSupervisor(loadConfig({}));
 * await supervisor.stop();
 * ```
 */
export async function startSupervisor(
  config: Config,
  options: StartSupervisorOptions = {},
): Promise<Supervisor> {
  const supervisor = new Node(config, options);
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.stop();
    throw err;
  }
  return supervisor;
}

/** The supervisor of one node; see the file header. */
class Node implements Supervisor, ReloadTarget {
  readonly addresses = new Map<string, ListenAddress>();
  #config: Config;
  readonly #options: StartSupervisorOptions;
  readonly #startedAt = Date.now();
  #ctl: CtlServer | null = null;
  #pool: ShardPool;
  #links: ShardLink[];
  readonly #listeners: Listener[] = [];
  #conns = new Map<number, Connection>();
  #gate: ConnectGate;
  #touched: Connection[] = [];
  /** The last pass stopped at BATCH records on some ring: more may be waiting. */
  #batchFull = false;
  #nextId = 1;
  #stopped = false;
  /** Socket reads and ring records handled so far: the idle GC's measure of load. */
  #workDone = 0;
  #stopGc: () => void = () => {};
  #stopping: Promise<void> | null = null;
  #pump: Promise<void> | null = null;
  #onIdle: (() => void) | null = null;
  readonly #rpc: ShardRpc;
  readonly control: BrokerControl;
  api: ApiServer | null = null;
  /** The dashboard listeners, bound first (a taken port stops the start before anything listens). */
  #apiBound: BoundApi | null = null;
  /** Address bans at accept and bytes_rate per client. */
  readonly #policy: ClientPolicy;
  readonly #sys: SysPublisher;
  #cluster: ClusterRuntime | null = null;
  /**
   * Cluster records the shards sent before the cluster was up (the routes of the persistent
   * sessions they restored from the store while loading): kept in order and applied once it
   * starts, so a node that comes back announces its sessions' routes. Null when the node is not
   * clustered, and once applied.
   */
  #earlyClusterRecords: { shard: number; kind: number; payload: Uint8Array }[] | null = null;
  /** The store worker and the supervisor's own port to it (started before any listener). */
  readonly #store: StoreLink;
  readonly #switch = new ListenerSwitch({
    config: () => this.#config,
    listeners: this.#listeners,
    addresses: this.addresses,
    create: (type, name) =>
      createListener(this.#config, type, name, (socket, l) => this.#accept(socket, l)),
    closeConnectionsOf: (id) => {
      for (const conn of this.#conns.values()) if (conn.listener === id) conn.destroy();
    },
    stopping: () => this.#stopping !== null,
  });
  #events: ConnectionEvents = {
    data: (conn, bytes) => this.#onData(conn, bytes),
    congested: (conn, on) => this.#links[conn.shard]?.congested(conn, on),
    closed: (conn, reason) => this.#onClosed(conn, reason),
  };

  constructor(config: Config, options: StartSupervisorOptions) {
    this.#config = config;
    this.#options = options;
    this.#store = new StoreLink(config, () => {
      // Without its store worker the node would go on without durability: stop, exit non-zero,
      // and let whatever supervises Culex restart it.
      void this.stop().finally(() => Deno.exit(1));
    });
    this.#pool = new ShardPool(config, {
      ...(options.workerUrl === undefined ? {} : { workerUrl: options.workerUrl }),
      onRestart: (index, mesh) => this.#relink(index, mesh.shards[index]!),
      storePort: () => this.#store.connect(),
    });
    this.#links = this.#pool.mesh.shards.map((rings, i) => new ShardLink(i, rings));
    this.#rpc = new ShardRpc(
      (shard, id, method, params) => this.#links[shard]?.request(id, method, params),
      () => this.#links.length,
    );
    const banned = createBanned(config.banned);
    this.#policy = new ClientPolicy(config, banned);
    this.control = new BrokerControl(
      this.#rpc,
      () => this.#links.length,
      (key) => this.#pool.shardOf(key),
      banned,
    );
    this.#sys = new SysPublisher(this.control, config.node.name, (err) => {
      log.warning("$SYS round failed: {error}", { error: String(err) });
    });
    this.#gate = new ConnectGate({
      maxPacketSize: config.mqtt.maxPacketSize,
      idleTimeout: config.mqtt.idleTimeout,
      onConnect: (conn, clientId, assigned) => {
        // mqtt.peer_cert_as_clientid: the certificate's id replaces the CONNECT's and places it.
        const forced = conn.transport?.clientIdOverride || "";
        const id = forced || clientId;
        this.#links[this.#pool.shardOf(id)]!.open(
          conn,
          forced ? "" : assigned,
          conn.takeBuffered(),
        );
      },
    });
  }

  /** The cluster links, when the node is clustered. */
  get cluster(): Cluster | undefined {
    return this.#cluster?.cluster;
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  get config(): Config {
    return this.#config;
  }

  reload(): Promise<ReloadResult> {
    const source = this.#options.reloadSource;
    if (!source) return Promise.reject(new Error("this node has no configuration to re-read"));
    return reloadConfig(this, () => source());
  }

  applyConfig(next: Config): Promise<ReloadResult> {
    return applyConfig(this, next);
  }

  listenerAction(
    id: string,
    action: ListenerAction,
    idempotent = false,
  ): Promise<ListenerActionResult> {
    return this.#switch.run(id, action, idempotent);
  }

  /** ReloadTarget: `next` is the running config with only live keys changed. */
  async applyLive(next: Config): Promise<void> {
    await setupNodeLogging(next.log);
    this.#store.setLog(next.log);
    await this.control.updateConfig(next);
    this.#config = next;
    this.#pool.updateConfig(next);
    this.#policy.config = next;
    this.#gate.setLimits(next.mqtt.maxPacketSize, next.mqtt.idleTimeout);
    this.reloadCertificates();
  }

  async start(): Promise<void> {
    if (this.#options.controlSocket) await assertDataDirFree(this.#config.node.dataDir);
    // Before the MQTT listeners and the cluster: a taken API port must not fail the start only
    // after the node has joined the cluster (issue 15).
    this.#apiBound = bindApi(this.#config);
    if (this.#config.cluster.discoveryStrategy !== "singleton") this.#earlyClusterRecords = [];
    this.#pump = this.#runPump();
    this.#stopGc = startForceGc(
      this.#config.forceGc,
      () => this.#workDone,
      (m, p) => log.debug(m, p),
      "supervisor",
    );
    // The store opens (or refuses to) before any shard loads from it or any listener opens; the
    // shard workers load their modules meanwhile (their init waits for the store).
    const storeOpened = this.#store.start();
    await Promise.all([storeOpened, this.#pool.start(storeOpened)]);
    // Bans, built-in users and ACL rules kept in the store are in force on every shard before
    // the first client connects.
    const builtinAuthn = this.#config.authentication.find((a) =>
      a.mechanism === "password_based" && "backend" in a && a.backend === "built_in_database"
    );
    const loaded = await this.control.attachStore(this.#store.client!, {
      retainedOnDisc: this.#config.retainer.storageType === "disc",
      userIdType: builtinAuthn && "userIdType" in builtinAuthn ? builtinAuthn.userIdType : null,
      aclRules: this.#config.authorization.sources.some((s) => s.type === "built_in_database"),
    });
    if (loaded.bans > 0) log.info("Loaded {n} bans from the store", { n: loaded.bans });
    if (loaded.users + loaded.aclRules > 0) {
      log.info("Loaded {users} built-in users and {rules} ACL rule sets from the store", {
        users: loaded.users,
        rules: loaded.aclRules,
      });
    }
    this.#sys.start(this.#config.sysTopics.sysMsgInterval);
    // The `.max` stats: the counts are sampled between reads too (EMQX samples on a timer).
    this.control.peaks.start(() => this.control.stats(), (err) => {
      log.debug("Stats sample failed: {error}", { error: String(err) });
    });
    this.#cluster = await startCluster(this.#config, {
      // Files read now: a bad cluster.ssl_options stops the start before any listener opens.
      tls: this.#config.cluster.sslOptions && this.#config.cluster.discoveryStrategy !== "singleton"
        ? clusterTls(this.#config.cluster.sslOptions)
        : null,
      shardCount: this.#links.length,
      shardOf: (key) => shardOf(key, this.#links.length),
      toShard: (shard, kind, parts) => this.#links[shard]?.write(kind, parts),
      request: (shard, method, params) => this.#rpc.call(shard, method, params),
      serve: (method, params) =>
        serveNode(
          { config: () => this.#config, control: this.control, startedAt: this.#startedAt },
          method,
          params,
        ),
      pauseClients: (on) => {
        for (const link of this.#links) link.setClusterPause(on);
      },
      // Retained messages on disc are not in the shards: the full set is read from the file.
      ...(this.#config.retainer.storageType === "disc" && this.#store.client
        ? { retainedPages: () => new StoredRetained(this.#store.client!).exportPages() }
        : {}),
    });
    const cluster = this.#cluster?.cluster;
    // Deletes through the API or ctl reach the other nodes as clears (issue 15).
    if (cluster) {
      this.control.moreMetrics = () => cluster.metrics();
      this.control.retainedCleared = (topics) => {
        const at = Date.now();
        // $SYS is per node: another node's own $SYS messages are not this node's to clear.
        for (const t of topics) if (!t.startsWith("$SYS/")) cluster.retain(t, retainClear(t, at));
        // The answer (204, ctl's exit) comes after the tombstones are fsynced: a kill -9 right
        // after it does not let a peer's copy come back at restart (docs/cluster.md).
        cluster.persistRetainClears();
      };
    }
    const early = this.#earlyClusterRecords ?? [];
    this.#earlyClusterRecords = null;
    for (const r of early) clusterRecord(this.#cluster?.cluster, r.shard, r.kind, r.payload);
    this.#store.announce(this.control);
    // Every listener is built (TLS files read) before the first one opens.
    const listeners = createListeners(this.#config, (socket, l) => this.#accept(socket, l));
    for (const listener of listeners) {
      this.#listeners.push(listener);
      const addr = await listener.start();
      this.addresses.set(listener.name, addr);
      // Exact text: tests and operators read the real port from this line.
      const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host;
      log.info(`Listener ${listener.name} listening on ${host}:${addr.port}`);
    }
    const storeClient = this.#store.client;
    this.api = await startApi({
      config: this.#config,
      // The default admin's password hash (PBKDF2, 50-80 ms of a core) waits for the first use
      // of the admins, not beside the start's first clients (src/api/_admin_gate.ts).
      seedLazily: true,
      control: this.control,
      listeners: () => this.#listenerInfo(),
      dashboard: serveDashboard,
      currentConfig: () => this.config,
      cluster: this.#cluster?.cluster ?? null,
      // The API sets a wanted state (EMQX's enable flag): repeating it is not an error.
      listenerAction: (id, action) => this.listenerAction(id, action, true),
      ...(this.#options.reloadSource
        ? {
          applyConfig: (sets: readonly string[]) =>
            this.applyConfig(this.#options.reloadSource!(sets)),
        }
        : {}),
      // Admins live in the durable store's users table (group "dashboard").
      ...(storeClient ? { admins: await StoreAdminStore.open(storeClient) } : {}),
    }, this.#apiBound);
    if (this.#options.controlSocket) {
      // Last: once `culex ping` answers, every listener is open.
      this.#ctl = await startNodeCtl({
        control: this.control,
        startedAt: this.#startedAt,
        config: () => this.#config,
        addresses: this.addresses,
        listeners: () => this.#listeners,
        stopping: () => this.#stopping !== null,
        api: () => this.api,
        cluster: () => this.#cluster?.cluster,
        reload: this.#options.reloadSource ? () => this.reload() : null,
        listenerAction: (id, action) => this.listenerAction(id, action),
        requestStop: this.#options.requestStop ?? (() => Deno.kill(Deno.pid, "SIGTERM")),
      });
    }
  }

  /** The MQTT listeners for GET /api/v5/listeners. */
  #listenerInfo(): ListenerInfo[] {
    // Every configured listener, as EMQX lists them: disabled or stopped ones too (not running).
    const byType = this.#config.listeners as unknown as Record<
      string,
      Record<string, { enable: boolean; bind: string; maxConnections: number }>
    >;
    return Object.entries(byType).flatMap(([type, byName]) =>
      Object.entries(byName).map(([name, cfg]) => {
        const id = `${type}:${name}`;
        const addr = this.addresses.get(id);
        return {
          id,
          bind: addr ? `${addr.host}:${addr.port}` : cfg.bind,
          enable: cfg.enable,
          running: addr !== undefined && !this.#stopping,
          currentConnections: this.#listeners.find((l) => l.name === id)?.connectionCount ?? 0,
          maxConnections: cfg.maxConnections,
        };
      })
    );
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  reloadCertificates(): void {
    for (const l of this.#listeners) {
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

  async #stop(): Promise<void> {
    this.#sys.stop();
    this.control.peaks.stop();
    const apiStopped = this.api?.stop() ?? this.#apiBound?.stop() ?? Promise.resolve();
    const listenersClosed = this.#listeners.map((l) => l.stop());
    for (const conn of this.#conns.values()) if (conn.shard < 0) conn.destroy();
    this.#gate.close();
    const late = await this.#pool.shutdown(SHUTDOWN_TIMEOUT_MS);
    if (late.length > 0) log.warning("Shards {late} did not finish shutdown in time", { late });
    // What the shards wrote while shutting down (DISCONNECTs, closes) goes out before the end.
    await this.#drainUntilQuiet(QUIET_MS);
    this.#stopped = true;
    this.#stopGc();
    ringDoorbell(this.#pool.mesh.supervisorDoorbell);
    await this.#pump;
    // After the drain: wills and last forwards of the shards went out on the links.
    await this.#cluster?.stop();
    for (const conn of this.#conns.values()) conn.end();
    await this.#allClosed(CLOSE_TIMEOUT_MS);
    for (const conn of this.#conns.values()) conn.destroy();
    for (const link of this.#links) link.close();
    for (let i = 0; i < this.#links.length; i++) this.#rpc.failShard(i, "the node stops");
    this.#pool.terminate();
    // After the shards: their last commits (sessions detached at shutdown) are in.
    await this.#store.close();
    await Promise.all(listenersClosed);
    await apiStopped;
    // Last: `culex stop` waits until the socket is gone, i.e. until everything above is done.
    await this.#ctl?.stop();
    log.info("Supervisor stopped");
  }

  #accept(socket: SocketPort, listener: Listener): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    const ban = this.#policy.bannedPeer(socket.peer);
    if (ban) {
      // Before a single byte is read, as EMQX's peerhost bans (the log line is the evidence).
      log.info("Refused {peer} on {listener}: banned ({as} {who})", {
        peer: socket.peer,
        listener: listener.name,
        as: ban.as,
        who: ban.who,
      });
      socket.destroy();
      return;
    }
    while (this.#conns.has(this.#nextId)) this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    const conn = new Connection(socket, {
      id: this.#nextId,
      listener: listener.name,
      events: this.#events,
      origin: listener, // a Listener has zone and enableAuthn: no object per connection
    });
    this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    this.#conns.set(conn.id, conn);
    this.#policy.opened(conn, listener.name);
    this.#gate.enter(conn);
    conn.start();
  }

  #onData(conn: Connection, bytes: Uint8Array): void {
    this.#workDone++;
    this.#policy.read(conn, bytes.length);
    const link = this.#links[conn.shard];
    if (link) {
      link.inbound(conn, bytes);
      return;
    }
    // Before CONNECT: the gate buffers until the client id is known.
    this.#gate.data(conn, bytes);
  }

  #onClosed(conn: Connection, reason: string): void {
    this.#conns.delete(conn.id);
    this.#policy.closed(conn);
    this.#gate.leave(conn);
    this.#links[conn.shard]?.closed(conn, reason);
    if (this.#conns.size === 0) this.#onIdle?.();
  }

  /** Shard `index` was restarted with new rings: its old connections die with it. */
  #relink(index: number, rings: ShardRings): void {
    const old = this.#links[index];
    this.#links[index] = new ShardLink(index, rings);
    this.#rpc.failShard(index, "the shard restarted");
    this.#cluster?.cluster.shardRestarted(index);
    if (!old) return;
    old.close();
    const orphans = [...old.connections];
    old.connections.clear();
    if (orphans.length > 0) {
      log.warning("Closing {count} connections of restarted shard {index}", {
        count: orphans.length,
        index,
      });
    }
    for (const conn of orphans) conn.destroy();
  }

  async #runPump(): Promise<void> {
    const bell = this.#pool.mesh.supervisorDoorbell;
    while (!this.#stopped) {
      const seen = readDoorbell(bell);
      const work = this.#drainOnce();
      // Sleep at once when the pass took everything and nothing rang since (the wake-up is a
      // macrotask turn too): one event loop iteration less per wake-up (see Shard.#run).
      if (work === 0 || (!this.#batchFull && readDoorbell(bell) === seen)) {
        await waitDoorbell(bell, seen);
      } else {
        // Socket reads and writes are macrotasks: let them run between busy passes.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** One pass over every shard → supervisor ring; writes go out once per pass. */
  #drainOnce(): number {
    let work = 0;
    this.#batchFull = false;
    for (const link of this.#links) {
      const n = link.drain(this.#onRecord, BATCH);
      if (n === BATCH) this.#batchFull = true;
      work += n;
    }
    this.#workDone += work;
    // Forwards to other nodes first: theirs is the longer path (bench/cluster_bench.ts).
    if (work > 0) this.#cluster?.cluster.flush();
    for (const conn of this.#touched) conn.flush();
    this.#touched.length = 0;
    return work;
  }

  #onRecord = (link: ShardLink, kind: number, payload: Uint8Array): void => {
    try {
      const r = new FieldReader(payload);
      switch (kind) {
        case RecordKind.ConnOutbound: {
          const conn = this.#owned(link, r.u32());
          if (conn?.send(r.bytes())) this.#touched.push(conn);
          return;
        }
        case RecordKind.ConnClose:
          this.#owned(link, r.u32())?.end();
          return;
        case RecordKind.InputPause:
          link.setInputPause(r.u8() === 1);
          return;
        case RecordKind.ConnPause: {
          const conn = this.#owned(link, r.u32());
          if (conn) link.setConnPause(conn, r.u8() === 1);
          return;
        }
        case RecordKind.Event:
          this.#onEvent(link.index, r.str());
          return;
        case RecordKind.Reply: {
          const id = r.u32();
          const ok = r.u8() === 0;
          this.#rpc.reply(id, ok, r.str());
          return;
        }
        default:
          // Before the cluster is up its records wait (payloads are fresh copies: kept as is).
          if (this.#earlyClusterRecords && clusterRecord(undefined, link.index, kind, payload)) {
            this.#earlyClusterRecords.push({ shard: link.index, kind, payload });
            return;
          }
          if (clusterRecord(this.#cluster?.cluster, link.index, kind, payload)) return;
          log.error("Unknown record kind {kind} from shard {index}", { kind, index: link.index });
      }
    } catch (err) {
      log.error("Bad record {kind} from shard {index}: {error}", {
        kind,
        index: link.index,
        error: String(err),
      });
    }
  };

  /** A shard reports something the whole node must know (a ban decided by flapping). */
  #onEvent(shard: number, json: string): void {
    const event = JSON.parse(json) as { type?: string; entry?: BanEntry };
    if (event.type === "ban" && event.entry) {
      void this.control.addBan(event.entry).catch((err) => {
        log.warning("Spreading a ban from shard {shard} failed: {error}", {
          shard,
          error: String(err),
        });
      });
      return;
    }
    log.error("Unknown event from shard {shard}: {json}", { shard, json });
  }

  /** The connection `id` if it still belongs to the shard of `link`. */
  #owned(link: ShardLink, id: number): Connection | undefined {
    const conn = this.#conns.get(id);
    return conn && conn.shard === link.index && link.connections.has(conn) ? conn : undefined;
  }

  /** Drains until no shard wrote anything for `quietMs`, at most SHUTDOWN_TIMEOUT_MS. */
  async #drainUntilQuiet(quietMs: number): Promise<void> {
    const bell = this.#pool.mesh.supervisorDoorbell;
    const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const seen = readDoorbell(bell);
      if (this.#drainOnce() > 0) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await waitDoorbell(bell, seen, quietMs);
      if (readDoorbell(bell) === seen) return;
    }
  }

  #allClosed(timeoutMs: number): Promise<void> {
    if (this.#conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#onIdle = null;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#onIdle = done;
    });
  }
}
