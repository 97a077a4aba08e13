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

/** PUBACK: QoS 1 delivery done. */
export function handlePuback(ch: Channel, p: IPuback): void {
  ch.session!.complete(p.messageId ?? 0, ch.host.now());
}

/** PUBCOMP: QoS 2 delivery done. */
export function handlePubcomp(ch: Channel, p: IPubcompPacket): void {
  ch.session!.complete(p.messageId ?? 0, ch.host.now());
}

/** PUBREC: send PUBREL (or end the delivery on a failure code). */
export function handlePubrec(ch: Channel, p: IPubrecPacket): void {
  const id = p.messageId ?? 0;
  const failed = (p.reasonCode ?? 0) >= 0x80;
  if (ch.session!.received(id, failed, ch.host.now()) || failed) return;
  if (ch.protocolVersion === 5) {
    ch.send({ cmd: "pubrel", messageId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
  } else {
    ch.send({ cmd: "pubrel", messageId: id });
  }
}

/** PUBREL: release the inbound packet id and answer PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(ch: Channel, p: IPubrelPacket): void {
  const id = p.messageId ?? 0;
  const known = ch.session!.releaseRel(id);
  if (ch.protocolVersion === 5 && !known) {
    ch.send({ cmd: "pubcomp", messageId: id, reasonCode: ReasonCode.PacketIdentifierNotFound });
  } else {
    ch.send({ cmd: "pubcomp", messageId: id });
  }
}

type IPuback = IPubackPacket;
