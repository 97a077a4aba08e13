/**
 * Acknowledgements [MQTT-3.4 to 3.7]: PUBACK and PUBCOMP end an outgoing delivery, PUBREC moves
 * one to its second half, PUBREL releases an inbound QoS 2 packet id. Unknown ids get the
 * "packet identifier not found" answer where the protocol has one.
 */

import type {
  IPubackPacket,
  IPubcompPacket,
  IPubrecPacket,
  IPubrelPacket,
} from "../../mqtt/mod.ts";
import { ReasonCode } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import { sendAck } from "./_store_ack.ts";

/** PUBACK: QoS 1 delivery done. */
export function handlePuback(ch: Channel, p: IPuback): void {
  acked(ch, p.messageId ?? 0);
}

/** PUBCOMP: QoS 2 delivery done. */
export function handlePubcomp(ch: Channel, p: IPubcompPacket): void {
  acked(ch, p.messageId ?? 0);
}

function acked(ch: Channel, packetId: number): void {
  const d = ch.session!.complete(packetId, ch.svc.clock.now());
  if (d) ch.svc.hooks.run("message.acked", ch.clientId, d.message);
}

/** PUBREC: send PUBREL (or end the delivery on a failure code). */
export function handlePubrec(ch: Channel, p: IPubrecPacket): void {
  const id = p.messageId ?? 0;
  const failed = (p.reasonCode ?? 0) >= 0x80;
  if (ch.session!.received(id, failed, ch.svc.clock.now()) || failed) return;
  if (ch.protocolVersion === 5) {
    ch.send({ cmd: "pubrel", messageId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
  } else {
    ch.send({ cmd: "pubrel", messageId: id });
  }
}

/** PUBREL: release the inbound packet id and answer PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(ch: Channel, p: IPubrelPacket): void {
  const id = p.messageId ?? 0;
  const session = ch.session!;
  const known = session.releaseRel(id);
  const store = ch.svc.store;
  const mark = store?.mark() ?? 0;
  // Durable mode: the id is free again only once that is committed (else, after a crash, the
  // client's next QoS 2 PUBLISH with this id would be taken for a resend and lost).
  if (known && store && session.durable) store.batch.releaseRel(session.durable.sid, id);
  const answer = () => {
    if (ch.protocolVersion === 5 && !known) {
      ch.send({ cmd: "pubcomp", messageId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
    } else {
      ch.send({ cmd: "pubcomp", messageId: id });
    }
  };
  if (store) sendAck(ch, answer, mark);
  else answer();
}

type IPuback = IPubackPacket;
