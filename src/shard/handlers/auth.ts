/**
 * AUTH from the client (MQTT 5 section 4.12): the next step of an exchange begun by CONNECT, or
 * re-authentication (reason 0x19) with the method the connection authenticated with. An AUTH
 * with no exchange in use is a protocol error [MQTT-4.12.0-1].
 */

import type { IAuthPacket } from "../../mqtt/mod.ts";
import { MqttError, ReasonCode } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import { authContext, runAuthStep } from "./connect.ts";

/** Handles one AUTH packet. */
export function handleAuth(ch: Channel, p: IAuthPacket): void {
  const auth = ch.auth;
  if (!auth) throw new MqttError(ReasonCode.ProtocolError, "Cannot accept AUTH: no method in use");
  if (p.properties?.authenticationMethod !== auth.method.name) {
    throw new MqttError(ReasonCode.ProtocolError, "AUTH names another method"); // [MQTT-4.12.0-5]
  }
  const data = p.properties?.authenticationData;
  const bytes = data ? new Uint8Array(data) : undefined;
  if (
    p.reasonCode === ReasonCode.ReAuthenticate && ch.state === "connected" && auth.state === null
  ) {
    runAuthStep(ch, auth.method.start(authContext(ch), bytes));
    return;
  }
  if (p.reasonCode !== ReasonCode.ContinueAuthentication || auth.state === null) {
    throw new MqttError(ReasonCode.ProtocolError, "AUTH out of sequence");
  }
  runAuthStep(ch, auth.method.next(authContext(ch), auth.state, bytes));
}
