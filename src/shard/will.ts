/**
 * Will: the message a connection leaves behind [MQTT-3.1.2-8], with its MQTT 5 delay. Pure data;
 * SessionRegistry decides when it is published or cancelled.
 */

import type { Message } from "../mqtt/mod.ts";

/** A will as accepted at CONNECT. */
export interface Will {
  readonly message: Message;
  /** Will Delay Interval in ms [MQTT-3.1.3-9]; 0 publishes as soon as the connection ends. */
  readonly delayMs: number;
}
