/**
 * Shard: the I/O shell of one worker isolate. Drains its rings (peers first, then the
 * supervisor), turns records into Channel and Broker calls, writes their output back as records,
 * and runs the one-second tick (keepalive, expiry, delayed wills, retries). The only code in
 * src/shard/ that calls the ring API.
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { EnhancedAuthRegistry, reverseChallengeMethod } from "../auth/mod.ts";
import type { Config } from "../config/types.ts";
import { writeU32LE } from "../bytes.ts";
import { startForceGc } from "../idle_gc.ts";
import {
  FieldReader,
  readDoorbell,
  RecordKind,
  ringDoorbell,
  RingReader,
  RingWriter,
  type ShardRings,
  SharedCounts,
  waitDoorbell,
} from "../ipc/mod.ts";
import { type Message, ReasonCode } from "../mqtt/mod.ts";
import { Broker } from "./broker.ts";
import { Channel, type ChannelHost } from "./channel.ts";
import { readConnInfo } from "./conn_info.ts";
import { Retainer } from "./retainer.ts";
import { OutboundBatcher } from "./_outbound.ts";
import { SessionRegistry } from "./session_registry.ts";
import { SharedSubs } from "./shared_subs.ts";
import { DelayedPublish } from "./delayed.ts";
import { Metrics } from "./metrics.ts";
import { type ShardReport, SysTopics } from "./sys.ts";

/**
 * Supervisor records handled per pass. A record carries one socket read (up to 64 KiB, hundreds
 * of packets), so a small number keeps one pass short enough for timers and flushes to keep up.
 */
const CLIENT_BATCH = 32;

/** One shard; see the file header. */
export class Shard implements ChannelHost {
  readonly config: Config;
  readonly index: number;
  readonly count: number;
  readonly broker: Broker;
  readonly registry: SessionRegistry;
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly sys: SysTopics;
  readonly delayed: DelayedPublish;
  #rings: ShardRings;
  #fromSupervisor: RingReader;
  #toSupervisor: RingWriter;
  #fromPeers: (RingReader | null)[] = [];
  #toPeers: (RingWriter | null)[] = [];
  readonly #channels = new Map<number, Channel>();
  readonly #listenerNames = new Map<string, string>();
  /** Records handled so far: the idle GC's measure of load. */
  #workDone = 0;
  #stopGc: () => void = () => {};
  #congestedPeers = 0;
  readonly #outbound: OutboundBatcher;
  readonly #outboundHeader = new Uint8Array(8);
  #stopped = false;
  readonly faultInjection = Deno.env.get("CULEX_TEST_HOOKS") === "1";
  readonly authMethods = new EnhancedAuthRegistry();
  #tick: ReturnType<typeof setInterval> | undefined;
  #sysTick: ReturnType<typeof setInterval> | undefined;

  constructor(init: { index: number; count: number; config: Config; rings: ShardRings }) {
    this.config = init.config;
    this.index = init.index;
    this.count = init.count;
    this.log = getLogger(["culex", "shard"]);
    this.#rings = init.rings;
    this.#fromSupervisor = new RingReader(init.rings.fromSupervisor);
    this.#toSupervisor = new RingWriter(init.rings.toSupervisor, init.rings.supervisorDoorbell);
    // While output to the supervisor is parked, client input waits in its ring (whose fill
    // pauses the sockets): a fan-out cannot grow the parked output without bound. Relief wakes
    // the loop.
    this.#toSupervisor.onCongestion = (on) => {
      if (!on) ringDoorbell(this.#rings.doorbell);
    };
    this.#connectPeers(init.rings);
    // A batch never exceeds a quarter ring (or the largest packet, which always fits).
    const maxBatch = Math.max(init.config.ipc.ringSize / 4, init.config.mqtt.maxPacketSize);
    this.#outbound = new OutboundBatcher((connId, parts, bytes) => {
      // The writer copies the parts before write() returns, so one header serves every batch.
      const h = this.#outboundHeader;
      writeU32LE(h, 0, connId);
      writeU32LE(h, 4, bytes); // FieldWriter.bytes layout: u32 length, then the bytes
      parts.unshift(h);
      this.#toSupervisor.write(RecordKind.ConnOutbound, parts);
    }, maxBatch);
    const counts = new SharedCounts(init.rings.counts, init.count, init.index);
    const retainer = new Retainer(init.config.retainer, counts);
    const shared = new SharedSubs(init.config.broker.sharedSubscriptionStrategy);
    this.broker = new Broker({
      index: this.index,
      count: this.count,
      sendToShard: (shard, kind, payload) => this.#toPeers[shard]?.write(kind, payload),
      flushPeers: () => {
        for (const w of this.#toPeers) w?.flush();
      },
      session: (clientId) => this.registry.get(clientId),
      now: () => Date.now(),
    }, {
      retainer,
      shared,
      retainEnabled: init.config.retainer.enable && init.config.mqtt.retainAvailable,
      upgradeQos: init.config.mqtt.upgradeQos,
    });
    this.registry = new SessionRegistry(init.config, this.broker);
    const publish = (m: Message) => void this.broker.publish(m);
    this.sys = new SysTopics(init.config, publish);
    this.delayed = new DelayedPublish(init.config.delayed, counts, publish);
    if (this.faultInjection) this.authMethods.register(reverseChallengeMethod);
  }

  /** Runs the drain loop and the tick until shutdown. */
  start(): void {
    this.#tick = setInterval(() => this.#onTick(), 1000);
    const sysInterval = this.config.sysTopics.sysMsgInterval;
    if (sysInterval > 0) this.#sysTick = setInterval(() => this.#onSysTick(), sysInterval);
    this.#stopGc = startForceGc(
      this.config.forceGc,
      () => this.#workDone,
      (m, p) => this.log.debug(m, p),
      `shard ${this.index}`,
    );
    void this.#run();
  }

  /** Another shard was restarted: take its new rings, forget its routes, send it ours. */
  replacePeers(rings: ShardRings, rebuilt: number): void {
    for (const w of this.#toPeers) w?.close();
    this.#rings = rings;
    this.#connectPeers(rings);
    this.broker.resetPeer(rebuilt);
  }

  /** Ends every connection as a server shutdown (wills go out) and flushes all rings. */
  shutdown(): void {
    for (const ch of [...this.#channels.values()]) {
      ch.disconnect(ReasonCode.ServerShuttingDown, "shutdown");
    }
    this.#outbound.flush();
    this.#toSupervisor.flush();
    for (const w of this.#toPeers) w?.flush();
    this.#stopped = true;
    clearInterval(this.#tick);
    clearInterval(this.#sysTick);
    this.#stopGc();
    this.delayed.stop();
  }

  // ChannelHost ---------------------------------------------------------------------------

  write(connId: number, bytes: Uint8Array): void {
    this.#outbound.add(connId, bytes);
  }

  closeConnection(connId: number): void {
    this.#outbound.flushConnection(connId); // what was written goes out before the close
    const h = new Uint8Array(4);
    writeU32LE(h, 0, connId);
    this.#toSupervisor.write(RecordKind.ConnClose, h);
  }

  crash(): void {
    this.log.warn("Fault injection: shard {index} crashes now", { index: this.index });
    setTimeout(() => {
      throw new Error(`Injected fault in shard ${this.index}`);
    }, 0);
  }

  released(channel: Channel): void {
    this.#channels.delete(channel.connId);
  }

  now(): number {
    return Date.now();
  }

  // ---------------------------------------------------------------------------------------

  #connectPeers(rings: ShardRings): void {
    this.#fromPeers = rings.fromPeers.map((r) => (r ? new RingReader(r) : null));
    this.#toPeers = rings.toPeers.map((r, j) => {
      if (!r) return null;
      const doorbell = rings.peerDoorbells[j];
      if (!doorbell) return null;
      const w = new RingWriter(r, doorbell);
      w.onCongestion = (on) => this.#peerCongestion(on);
      return w;
    });
  }

  /** A full peer ring pauses this shard's client input until it drains (never drops). */
  #peerCongestion(on: boolean): void {
    const before = this.#congestedPeers;
    this.#congestedPeers += on ? 1 : -1;
    if ((before === 0) !== (this.#congestedPeers === 0)) {
      this.#toSupervisor.write(RecordKind.InputPause, Uint8Array.of(on ? 1 : 0));
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const seen = readDoorbell(this.#rings.doorbell);
      let work = 0;
      // Peers before clients: routes and retained writes committed before a client acted are
      // applied before that client's bytes are handled (ordering rules in DESIGN.md). One drain
      // call takes exactly what was committed when it started, so a busy peer cannot starve us.
      for (let j = 0; j < this.#fromPeers.length; j++) {
        const r = this.#fromPeers[j];
        if (r) work += r.drain((kind, payload) => this.#onPeerRecord(j, kind, payload));
      }
      if (!this.#toSupervisor.congested) {
        work += this.#fromSupervisor.drain(
          (kind, payload) => this.#onClientRecord(kind, payload),
          CLIENT_BATCH,
        );
      }
      this.#flushAll();
      this.#workDone += work;
      if (work === 0) {
        await waitDoorbell(this.#rings.doorbell, seen);
      } else {
        // A macrotask turn between passes: timers, control messages and the ring writers'
        // space notifications run while traffic keeps the rings busy.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Commits this pass's output: per-connection batches, then every ring. */
  #flushAll(): void {
    this.#outbound.flush();
    this.#toSupervisor.flush();
    for (const w of this.#toPeers) w?.flush();
  }

  #onPeerRecord(from: number, kind: number, payload: Uint8Array): void {
    try {
      if (kind === RecordKind.SysStats) {
        this.sys.report(from, JSON.parse(new TextDecoder().decode(payload)));
        return;
      }
      if (!this.broker.applyPeerRecord(from, kind, payload)) {
        this.log.error("Unknown record kind {kind} from shard {from}", { kind, from });
      }
    } catch (err) {
      this.log.error("Peer record {kind} from shard {from} failed: {err}", {
        kind,
        from,
        err: String(err instanceof Error ? err.stack : err),
      });
    }
  }

  /** One string per listener name, not one per connection (there are a handful of names). */
  #internListener(name: string): string {
    let known = this.#listenerNames.get(name);
    if (known === undefined) this.#listenerNames.set(name, known = name);
    return known;
  }

  #onClientRecord(kind: number, payload: Uint8Array): void {
    const r = new FieldReader(payload);
    const connId = r.u32();
    switch (kind) {
      case RecordKind.ConnOpen: {
        const listener = this.#internListener(r.str());
        const peer = r.str();
        const assignedClientId = r.str();
        const connInfo = readConnInfo(r); // issue 12: zone, enable_authn, TLS, cookie
        this.#channels.set(
          connId,
          new Channel(this, { connId, peer, listener, assignedClientId, connInfo }),
        );
        return;
      }
      case RecordKind.ConnInbound:
        this.#channels.get(connId)?.handleBytes(r.bytes());
        return;
      case RecordKind.ConnClosed:
        this.#channels.get(connId)?.socketClosed(r.str());
        return;
      case RecordKind.ConnCongested:
        this.#channels.get(connId)?.session?.setCongested(r.u8() === 1, Date.now());
        return;
      default:
        this.log.error("Unknown record kind {kind} from the supervisor", { kind });
    }
  }

  /** This shard's numbers for $SYS; shard 0 merges them and publishes. */
  #report(): ShardReport {
    let subscriptions = 0;
    for (const session of this.registry.sessions()) subscriptions += session.subscriptions.size;
    const metrics = this.metrics.snapshot();
    const extraDrops = this.registry.stats.dropped + this.broker.stats.sharedDropped;
    metrics["messages.dropped"] = (metrics["messages.dropped"] ?? 0) + extraDrops;
    return {
      metrics,
      connections: this.registry.connectedCount,
      sessions: this.registry.size,
      subscriptions,
      retained: this.broker.retainer.size,
      topics: this.broker.routes.size + this.broker.shared.size,
    };
  }

  #onSysTick(): void {
    const report = this.#report();
    if (this.index !== 0) {
      const bytes = new TextEncoder().encode(JSON.stringify(report));
      this.#toPeers[0]?.write(RecordKind.SysStats, bytes);
      return;
    }
    this.sys.report(0, report);
    this.sys.publishAll(Date.now());
  }

  #onTick(): void {
    const now = Date.now();
    const mqtt = this.config.mqtt;
    for (const ch of [...this.#channels.values()]) ch.checkKeepalive(now);
    for (const session of this.registry.sessions()) {
      for (const [id, at] of session.awaitingRel) {
        if (now - at >= mqtt.awaitRelTimeout) session.releaseRel(id);
      }
    }
    // 3.x clients get unacknowledged messages again after retry_interval; MQTT 5 forbids
    // resending on a live connection [MQTT-4.4.0-1].
    for (const ch of this.#channels.values()) {
      const s = ch.session;
      if (!s || ch.state !== "connected" || ch.protocolVersion === 5) continue;
      for (const entry of [...s.stale(now, mqtt.retryInterval)]) s.retry(entry, now);
    }
    this.registry.sweep(now);
  }
}
