/**
 * The only switch on packet type. Enforces CONNECT first and only once [MQTT-3.1.0-1/-2] and
 * that a server never receives server-only packets; everything else goes to one handler each.
 */

import { MqttError, type Packet, ReasonCode } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import { handleAuth } from "./auth.ts";
import { handleConnect } from "./connect.ts";
import { handleDisconnect } from "./disconnect.ts";
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from "./ack.ts";
import { handlePublish } from "./publish.ts";
import { handleSubscribe, handleUnsubscribe } from "./subscribe.ts";

/** Runs the handler for one decoded packet; throws MqttError on a protocol violation. */
export function dispatchPacket(ch: Channel, packet: Packet): void {
  if (ch.state === "connecting") {
    if (packet.cmd !== "connect") {
      throw new MqttError(ReasonCode.ProtocolError, `Cannot accept ${packet.cmd} before CONNECT`);
    }
    handleConnect(ch, packet);
    return;
  }
  if (ch.state === "authenticating" && packet.cmd !== "auth" && packet.cmd !== "disconnect") {
    throw new MqttError(
      ReasonCode.ProtocolError,
      `Cannot accept ${packet.cmd} while authenticating`,
    );
  }
  switch (packet.cmd) {
    case "publish":
      return handlePublish(ch, packet);
    case "puback":
      return handlePuback(ch, packet);
    case "pubrec":
      return handlePubrec(ch, packet);
    case "pubrel":
      return handlePubrel(ch, packet);
    case "pubcomp":
      return handlePubcomp(ch, packet);
    case "subscribe":
      return handleSubscribe(ch, packet);
    case "unsubscribe":
      return handleUnsubscribe(ch, packet);
    case "pingreq":
      ch.send({ cmd: "pingresp" });
      return;
    case "disconnect":
      return handleDisconnect(ch, packet);
    case "connect":
      throw new MqttError(ReasonCode.ProtocolError, "Cannot accept a second CONNECT");
    case "auth":
      return handleAuth(ch, packet);
    default:
      throw new MqttError(ReasonCode.ProtocolError, `Cannot accept ${packet.cmd} from a client`);
  }
}
