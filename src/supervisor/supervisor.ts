/**
 * Supervisor: the main isolate's lifecycle. Starts the shard pool and the listeners, places each
 * new connection on its shard after peeking at CONNECT for the client id, pumps socket bytes into
 * shard rings and shard records back out to sockets (one doorbell loop for all shard → supervisor
 * rings), and drains everything on stop. Owns every socket and the supervisor's ring ends. Does no
 * MQTT beyond the CONNECT peek and never imports src/shard/.
 */

import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { startForceGc } from "../idle_gc.ts";
import { ringDoorbell, type ShardRings } from "../ipc/mod.ts";
import type { ListenAddress, Listener } from "./listener.ts";
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
import { ShardRpc } from "./shard_rpc.ts";
import { SysPublisher } from "./sys_publisher.ts";
import { createBanned } from "../auth/mod.ts";
import { ClientPolicy } from "./_client_policy.ts";
import { probeListenerPorts } from "./_port_probe.ts";
import { type ApiServer, bindApi, type BoundApi } from "../api/mod.ts";
import { startNodeApi } from "./_node_api.ts";
import { setupNodeLogging } from "../log.ts";
import { assertDataDirFree, type CtlServer } from "./ctl_server.ts";
import { startNodeCtl } from "./_node_ctl.ts";
import { applyConfig, reloadConfig, type ReloadResult, type ReloadTarget } from "./reload.ts";
import { NodeCluster } from "./_cluster_glue.ts";
import type { Cluster } from "../cluster/mod.ts";
import { StoreLink } from "./_store_link.ts";
import { Connections } from "./_connections.ts";
import { ShardOutput } from "./_shard_output.ts";
import type { StartSupervisorOptions, Supervisor } from "./supervisor_types.ts";

export type { StartSupervisorOptions, Supervisor } from "./supervisor_types.ts";

const log = getLogger(["culex", "supervisor"]);

/** Bound on waiting for shards to finish their shutdown (wills, DISCONNECTs). */
const SHUTDOWN_TIMEOUT_MS = 5000;
/** At stop, shard output is drained until the rings stay silent this long. */
const QUIET_MS = 50;

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
  readonly #conns: Connections;
  #gate: ConnectGate;
  readonly #output: ShardOutput;
  /** Socket reads and ring records handled so far: the idle GC's measure of load. */
  #workDone = 0;
  #stopGc: () => void = () => {};
  #stopping: Promise<void> | null = null;
  #pump: Promise<void> | null = null;
  readonly #rpc: ShardRpc;
  readonly control: BrokerControl;
  api: ApiServer | null = null;
  /** The dashboard listeners, bound first (a taken port stops the start before anything listens). */
  #apiBound: BoundApi | null = null;
  /** Address bans at accept and bytes_rate per client. */
  readonly #policy: ClientPolicy;
  readonly #sys: SysPublisher;
  readonly #cluster: NodeCluster;
  /** The store worker and the supervisor's own port to it (started before any listener). */
  readonly #store: StoreLink;
  readonly #switch = new ListenerSwitch({
    config: () => this.#config,
    listeners: this.#listeners,
    addresses: this.addresses,
    create: (type, name) =>
      createListener(this.#config, type, name, (socket, l) => this.#conns.accept(socket, l)),
    closeConnectionsOf: (id) => this.#conns.closeListener(id),
    stopping: () => this.#stopping !== null,
  });

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
      onConnect: (conn, clientId, assigned) => this.#conns.place(conn, clientId, assigned),
    });
    this.#cluster = new NodeCluster({
      config: () => this.#config,
      links: () => this.#links,
      rpc: this.#rpc,
      control: this.control,
      startedAt: this.#startedAt,
      store: () => this.#store.client,
    });
    this.#conns = new Connections({
      policy: this.#policy,
      gate: this.#gate,
      link: (index) => this.#links[index],
      shardOf: (clientId) => this.#pool.shardOf(clientId),
      stopping: () => this.#stopping !== null,
      worked: () => this.#workDone++,
    });
    this.#output = new ShardOutput({
      bell: () => this.#pool.mesh.supervisorDoorbell,
      links: () => this.#links,
      connection: (id) => this.#conns.get(id),
      reply: (id, ok, json) => this.#rpc.reply(id, ok, json),
      addBan: (entry) => this.control.addBan(entry),
      clusterRecord: (shard, kind, payload) => this.#cluster.record(shard, kind, payload),
      flushCluster: () => this.#cluster.cluster?.flush(),
      worked: (n) => this.#workDone += n,
    });
  }

  /** The cluster links, when the node is clustered. */
  get cluster(): Cluster | undefined {
    return this.#cluster.cluster;
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
    // Before the MQTT listeners and the cluster: a taken API or MQTT port must not fail the start
    // only after the node has joined the cluster (issue 15).
    this.#apiBound = bindApi(this.#config);
    probeListenerPorts(this.#config);
    this.#cluster.holdRecords();
    this.#pump = this.#output.run();
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
    await this.#store.attach(this.control);
    this.#sys.start(this.#config.sysTopics.sysMsgInterval);
    // The `.max` stats: the counts are sampled between reads too (EMQX samples on a timer).
    this.control.peaks.start(() => this.control.stats(), (err) => {
      log.debug("Stats sample failed: {error}", { error: String(err) });
    });
    await this.#cluster.start();
    this.#store.announce(this.control);
    // Every listener is built (TLS files read) before the first one opens.
    const listeners = createListeners(this.#config, (socket, l) => this.#conns.accept(socket, l));
    await this.#switch.openAll(listeners);
    this.api = await startNodeApi(this, {
      listeners: () => this.#switch.info(),
      reloadSource: this.#options.reloadSource,
      storeClient: this.#store.client,
    }, this.#apiBound ?? undefined);
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
        cluster: () => this.#cluster.cluster,
        reload: this.#options.reloadSource ? () => this.reload() : null,
        listenerAction: (id, action) => this.listenerAction(id, action),
        requestStop: this.#options.requestStop ?? (() => Deno.kill(Deno.pid, "SIGTERM")),
      });
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  reloadCertificates(): void {
    this.#switch.reloadCertificates();
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
    await this.#output.drainUntilQuiet(QUIET_MS, SHUTDOWN_TIMEOUT_MS);
    this.#output.stop();
    this.#stopGc();
    ringDoorbell(this.#pool.mesh.supervisorDoorbell);
    await this.#pump;
    // After the drain: wills and last forwards of the shards went out on the links.
    await this.#cluster.stop();
    await this.#conns.closeAll();
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

  /** Shard `index` was restarted with new rings: its old connections die with it. */
  #relink(index: number, rings: ShardRings): void {
    const old = this.#links[index];
    this.#links[index] = new ShardLink(index, rings);
    this.#rpc.failShard(index, "the shard restarted");
    this.#cluster.cluster?.shardRestarted(index);
    old?.retire();
  }
}
