/**
 * DISCONNECT from the client [MQTT-3.14]: a normal end discards the will; MQTT 5 reason 0x04
 * asks for it to be sent; a new Session Expiry Interval may be given, but not from zero.
 */

import type { IDisconnectPacket } from "../../mqtt/mod.ts";
import { MqttError, ReasonCode } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";

/** Handles a client's DISCONNECT. */
export function handleDisconnect(ch: Channel, p: IDisconnectPacket): void {
  const asked = p.properties?.sessionExpiryInterval;
  if (ch.protocolVersion === 5 && asked !== undefined && ch.session) {
    if (ch.connectSessionExpiry === 0 && asked !== 0) {
      throw new MqttError(ReasonCode.ProtocolError, "Session expiry cannot change from zero"); // [MQTT-3.14.2-2]
    }
    const ms = asked === 0xFFFFFFFF ? Infinity : asked * 1000;
    ch.session.expiryInterval = Math.min(ms, ch.svc.config.mqtt.sessionExpiryInterval);
  }
  const withWill = ch.protocolVersion === 5 &&
    p.reasonCode === ReasonCode.DisconnectWithWillMessage;
  if (!withWill) ch.setWill(null); // [MQTT-3.1.2-10]
  ch.terminate(withWill ? "normal_with_will" : "normal", { publishWill: withWill });
}
