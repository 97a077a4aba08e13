import assert from "node:assert/strict";
import { clusterStatusLine, erlAtom } from "./_ctl_cluster.ts";

Deno.test("erlAtom quotes node names as Erlang's ~p prints atoms", () => {
  assert.equal(erlAtom("emqx@127.0.0.1"), "'emqx@127.0.0.1'");
  assert.equal(erlAtom("emqx@host"), "emqx@host");
  assert.equal(erlAtom("nonsense"), "nonsense");
  assert.equal(erlAtom("Upper@host"), "'Upper@host'");
  assert.equal(erlAtom("it's@h"), "'it\\'s@h'");
});

Deno.test("clusterStatusLine is EMQX's status term", () => {
  assert.equal(
    clusterStatusLine({ running: ["a@127.0.0.1", "b@gw"], stopped: ["c@10.0.0.3"] }),
    "Cluster status: #{running_nodes => ['a@127.0.0.1',b@gw],stopped_nodes => ['c@10.0.0.3']}",
  );
});
