/**
 * ClientRecords: what a shard does with each record from the supervisor: a connection opened (a
 * new Channel), its bytes, its socket closed or congested, a control request, a client connected
 * on another node, and the cluster records the Broker applies. Private to src/shard/; owns the
 * interned listener names. The channels and the output are the Shard's (ClientRecordTarget).
 */

import { FieldReader, RecordKind } from "../ipc/mod.ts";
import { takenOverElsewhere } from "./_client_end.ts";
import { Channel, type ChannelOutput } from "./channel.ts";
import { readConnInfo } from "./conn_info.ts";
import { type ControlReply, handleControl } from "./control.ts";
import type { ShardServices } from "./shard_services.ts";

/** The Shard's parts a record acts on. */
export interface ClientRecordTarget {
  readonly svc: ShardServices;
  /** Where a new Channel writes (the Shard). */
  readonly output: ChannelOutput;
  /** The shard's open channels by connection id. */
  readonly channels: Map<number, Channel>;
  /** Sends the answer to the supervisor's Request `id`. */
  reply(id: number, reply: ControlReply): void;
}

/** See the file header. */
export class ClientRecords {
  readonly #target: ClientRecordTarget;
  readonly #listenerNames = new Map<string, string>();

  constructor(target: ClientRecordTarget) {
    this.#target = target;
  }

  /** One string per listener name, not one per connection (there are a handful of names). */
  #internListener(name: string): string {
    let known = this.#listenerNames.get(name);
    if (known === undefined) this.#listenerNames.set(name, known = name);
    return known;
  }

  /** Applies one supervisor → shard record. */
  apply(kind: number, payload: Uint8Array): void {
    const r = new FieldReader(payload);
    switch (kind) {
      case RecordKind.ConnOpen: {
        const connId = r.u32();
        const listener = this.#internListener(r.str());
        const peer = r.str();
        const assignedClientId = r.str();
        const connInfo = readConnInfo(r); // zone, enable_authn, TLS facts, cookie
        const info = { connId, peer, listener, assignedClientId, connInfo };
        this.#target.channels.set(connId, new Channel(this.#target.output, this.#target.svc, info));
        return;
      }
      case RecordKind.ConnInbound:
        this.#target.channels.get(r.u32())?.handleBytes(r.bytes());
        return;
      case RecordKind.ConnClosed:
        this.#target.channels.get(r.u32())?.socketClosed(r.str());
        return;
      case RecordKind.ConnCongested: {
        const session = this.#target.channels.get(r.u32())?.session;
        session?.setCongested(r.u8() === 1, this.#target.svc.clock.now());
        return;
      }
      case RecordKind.Request: {
        const id = r.u32();
        const reply = handleControl(this.#target.svc, r.str(), r.str());
        if (reply instanceof Promise) void reply.then((done) => this.#target.reply(id, done));
        else this.#target.reply(id, reply);
        return;
      }
      case RecordKind.RemoteClientOpen:
        takenOverElsewhere(this.#target.svc, r.str());
        return;
      default:
        if (this.#target.svc.broker.applyClusterRecord(kind, payload)) return;
        this.#target.svc.log.error("Unknown record kind {kind} from the supervisor", { kind });
    }
  }
}
