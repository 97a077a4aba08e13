/**
 * Child process of kill_test.ts: opens the store in Deno.args[0] with sync Deno.args[1], then
 * commits batches forever and prints "committed N" after each commit returned. Batch N writes
 * ten outgoing rows (seq 10N-9..10N), retained "k/N" and delayed id N, and deletes the rows of
 * batch N-2, so that a half-written batch would show. Continues after the last batch found.
 */

import { makeKey, Store, StoreBatch } from "./mod.ts";
import { msg, options } from "./_test_util.ts";

export const SID = makeKey(42, 1);

const [dir = ".", sync = "normal"] = Deno.args;
const store = Store.open(options(dir, { sync: sync === "full" ? "full" : "normal" }));
const b = new StoreBatch();
const last = store.nextKeys([0])[0]! - 1; // delayed ids are makeKey(0, N)
if (last === 0) {
  b.session({
    sid: SID,
    clientId: "kill",
    protoVer: 5,
    expiryMs: -1,
    connected: true,
    disconnectedAt: 0,
    createdAt: 1,
    will: null,
    willDelayMs: 0,
  });
  store.apply(b.take());
}
console.log(`ready ${last}`);
const payload = "p".repeat(300);
for (let n = last + 1;; n++) {
  for (let k = 9; k >= 0; k--) {
    b.enqueue(SID, 10 * n - k, {
      message: msg(`q/${n}`, payload),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
  }
  if (n > 2) { for (let k = 9; k >= 0; k--) b.done(SID, 10 * (n - 2) - k); }
  b.retain(0, msg(`k/${n}`, payload));
  b.delay(makeKey(0, n), n, msg(`d/${n}`));
  store.apply(b.take());
  console.log(`committed ${n}`);
}
