/**
 * Acknowledgements that wait for the store (durable mode, or a publish that wrote to it): a PUBACK/PUBREC goes only after the
 * commit that makes it true, a PUBCOMP only after the PUBREL's release is committed. Private to
 * src/shard/handlers/.
 */

import type { Channel } from "../channel.ts";
import type { CommitOutcome } from "../durable.ts";

/**
 * Sends an acknowledgement now, or (durable mode) once the store committed what this pass
 * wrote for it. Acknowledgements of one connection keep the order of its packets
 * [MQTT-4.6.0-2]: once one waits, the next ones wait behind it. `send` gets the refusal, if any.
 */
export function sendAck(
  ch: Channel,
  send: (refused: CommitOutcome) => void,
  mark?: number,
): void {
  const store = ch.svc.store;
  // Without a mark only durable mode waits (a PUBCOMP after its release row); a disc retainer's
  // store holds an acknowledgement only behind one already waiting or after the publish's writes.
  const writing = mark === undefined ? store?.durable : store?.wroteSince(mark);
  if (!store || (ch.storeWaits === 0 && !writing)) {
    send(null);
    return;
  }
  ch.storeWaits++;
  store.after((r) => {
    ch.storeWaits--;
    if (ch.isClosed()) return;
    try {
      send(r);
    } catch (err) {
      ch.svc.log.error("Acknowledging for {clientId} failed: {err}", {
        clientId: ch.clientId,
        err: String(err),
      });
    }
  });
}
