/**
 * Worker of store_test.ts: opens the store in the directory it is sent, at the same moment as
 * its siblings, writes one session and reports "ok" or the error. Test-only.
 */

import { makeKey, Store, StoreBatch } from "./mod.ts";

const port = self as unknown as {
  onmessage:
    | ((
      e: MessageEvent<{ dir: string; index: number; barrier: SharedArrayBuffer; n: number }>,
    ) => void)
    | null;
  postMessage(m: string): void;
};
port.onmessage = (e) => {
  // Everyone opens at the same instant: the race a fresh file must survive.
  const word = new Int32Array(e.data.barrier);
  if (Atomics.add(word, 0, 1) + 1 === e.data.n) Atomics.notify(word, 0);
  while (Atomics.load(word, 0) < e.data.n) Atomics.wait(word, 0, Atomics.load(word, 0), 1000);
  try {
    const store = Store.open({
      dir: e.data.dir,
      sync: "normal",
      maxStoreSize: 0,
      indexSpecs: [[1, 3]],
    });
    const b = new StoreBatch();
    const sid = makeKey(e.data.index, 1);
    b.session({
      sid,
      clientId: `racer-${e.data.index}`,
      protoVer: 5,
      expiryMs: -1,
      connected: true,
      disconnectedAt: 0,
      createdAt: 0,
      will: null,
      willDelayMs: 0,
    });
    store.apply(b.take());
    store.close();
    port.postMessage("ok");
  } catch (err) {
    port.postMessage(String(err));
  }
};
