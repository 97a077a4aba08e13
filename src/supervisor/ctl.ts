/**
 * The `culex ctl` commands, each answering in EMQX's text (`emqx ctl`, apps/emqx_management/src/
 * emqx_mgmt_cli.erl and emqx_retainer_cli.erl): status, broker [stats|metrics], clients,
 * subscriptions, topics, retainer, listeners, banned (Culex's own: EMQX bans only through the
 * API), cluster status, conf reload. Every answer about clients, topics or messages comes from
 * BrokerControl (the shards' request/reply); nothing is read from files. Served on the control
 * socket by CtlServer. Owns no state.
 *
 * @module
 */

import { BAN_AS, type BanAs, type BanEntry } from "../auth/mod.ts";
import type { Config } from "../config/mod.ts";
import type { CtlAnswer } from "../ctl/protocol.ts";
import type { BrokerControl, Json } from "./broker_control.ts";
import type { ClientOps } from "../api/mod.ts";
import type { ReloadResult } from "./reload.ts";
import type { Cluster } from "../cluster/mod.ts";
import { clusterCtl } from "./_ctl_cluster.ts";
import type { ListenerAction, ListenerActionResult } from "./_listener_switch.ts";
import {
  clientLine,
  dateTimeText,
  pad,
  statLines,
  subscriptionLine,
  uptimeText,
  USAGE,
  usage,
} from "./_ctl_text.ts";

/** One listener as `ctl listeners` shows it. */
export interface CtlListener {
  /** "tcp:default" */
  readonly id: string;
  readonly listenOn: string;
  readonly proxyProtocol: boolean;
  readonly enable: boolean;
  readonly running: boolean;
  readonly currentConn: number;
  /** 0 = unlimited (printed as EMQX's `infinity`). */
  readonly maxConns: number;
}

/** What the commands need from the running node. */
export interface CtlDeps {
  readonly control: BrokerControl;
  /** One client's operations, on whichever node has the client (src/api/client_ops.ts). */
  readonly clients: ClientOps;
  readonly nodeName: string;
  readonly version: string;
  readonly startedAt: number;
  config(): Config;
  listeners(): CtlListener[];
  /** The cluster links; undefined on a singleton node. */
  cluster(): Cluster | undefined;
  /** Re-reads the config file as SIGHUP does; null when the node has no file to re-read. */
  reload: (() => Promise<ReloadResult>) | null;
  /** `listeners stop|start|restart <Id>`. */
  listenerAction(id: string, action: ListenerAction): Promise<ListenerActionResult>;
  /**
   * `admins add|passwd|del` on the HTTP API's admins; each answers an error text (EMQX's
   * reason) or null when done.
   */
  readonly admins: {
    add(username: string, password: string, description: string): Promise<string | null>;
    passwd(username: string, password: string): Promise<string | null>;
    del(username: string): Promise<string | null>;
  };
}

/** Largest page asked of the shards while listing everything. */
const PAGE = 10_000;

const ok = (text: string): CtlAnswer => ({ code: 0, text });
const fail = (text: string): CtlAnswer => ({ code: 1, text });

/**
 * Runs one command (the words after `ctl`). An unknown command or wrong arguments answer the
 * usage text with status 1, as `emqx ctl` prints its usage.
 */
export async function runCtl(args: readonly string[], deps: CtlDeps): Promise<CtlAnswer> {
  const [cmd = "", ...rest] = args;
  const c = deps.control;
  const key = rest.join(" ");
  switch (cmd) {
    case "status":
      if (rest.length > 0) break;
      return ok(`Node '${deps.nodeName}' ${deps.version} is started`);
    case "broker":
      if (rest.length === 0) {
        return ok([
          `${pad("sysdescr", 10)}: Culex`,
          `${pad("version", 10)}: ${deps.version}`,
          `${pad("datetime", 10)}: ${dateTimeText(new Date())}`,
          `${pad("uptime", 10)}: ${uptimeText(Date.now() - deps.startedAt)}`,
        ].join("\n"));
      }
      if (key === "stats") return ok(statLines(await c.stats()));
      if (key === "metrics") return ok(statLines(await c.metrics()));
      break;
    case "clients":
      return await clients(rest, c, deps.clients);
    case "subscriptions":
      return await subscriptions(rest, c, deps.clients);
    case "topics": {
      const show = rest[0] === "show" && rest.length === 2;
      if (!show && key !== "list") break;
      const topic = show ? rest[1] : undefined;
      const all = await everything((page) =>
        c.listTopics({ page, limit: PAGE, self: deps.nodeName, ...(topic ? { topic } : {}) })
      );
      // `topics show` of an unknown topic prints nothing, as EMQX.
      if (all.length === 0) return ok(topic ? "" : "No topics.");
      // Every node's routes (EMQX's replicated route table), each with its node.
      return ok(all.map((t) => `${String(t.topic)} -> ${String(t.node)}`).join("\n"));
    }
    case "retainer":
      return await retainer(rest, deps);
    case "listeners":
      if (rest.length === 0) return ok(deps.listeners().map(listenerText).join("\n"));
      if (rest.length === 2) return await listenerAction(rest[0]!, rest[1]!, deps);
      break;
    case "banned":
      return await banned(rest, c);
    case "cluster": {
      const answer = await clusterCtl(rest, deps.cluster(), deps.nodeName);
      if (answer) return answer;
      break;
    }
    case "admins": {
      // EMQX's emqx_dashboard_cli:admins/1; the password is never echoed nor logged.
      const [sub, user = "", password = "", description = ""] = rest;
      let error: string | null;
      if (sub === "add" && (rest.length === 3 || rest.length === 4)) {
        error = await deps.admins.add(user, password, description);
      } else if (sub === "passwd" && rest.length === 3) {
        error = await deps.admins.passwd(user, password);
      } else if (sub === "del" && rest.length === 2) {
        error = await deps.admins.del(user);
      } else break;
      return error === null ? ok("ok") : fail(`Error: ${error}`);
    }
    case "conf": {
      if (key !== "reload") break;
      if (!deps.reload) return fail("Error: the node has no config to re-read");
      try {
        const r = await deps.reload();
        return ok(
          `applied: ${r.applied.join(", ") || "nothing"}\n` +
            `restart required: ${r.restartRequired.join(", ") || "nothing"}`,
        );
      } catch (err) {
        return fail(`Error: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  if (cmd === "help" && rest.length === 0) return ok(usage(Object.values(USAGE).flat()));
  const help = USAGE[cmd];
  if (help) return fail(usage(help));
  return fail(usage(Object.values(USAGE).flat()));
}

async function clients(
  rest: readonly string[],
  c: BrokerControl,
  ops: ClientOps,
): Promise<CtlAnswer> {
  const [sub, id] = rest;
  if (sub === "list" && rest.length === 1) {
    const all = await everything((page) => c.listClients({ page, limit: PAGE }));
    return ok(all.length === 0 ? "No clients." : all.map(clientLine).join("\n"));
  }
  if (sub === "show" && rest.length === 2 && id !== undefined) {
    const client = await ops.getClient(id);
    return ok(client ? clientLine(client) : "Not Found.");
  }
  if (sub === "kick" && rest.length === 2 && id !== undefined) {
    // EMQX answers ok whether or not the client existed.
    await ops.kickClient(id);
    return ok("ok");
  }
  return fail(usage(USAGE.clients!));
}

async function subscriptions(
  rest: readonly string[],
  c: BrokerControl,
  ops: ClientOps,
): Promise<CtlAnswer> {
  const [sub, id = "", topic = "", qos = ""] = rest;
  if (sub === "list" && rest.length === 1) {
    const all = await everything((page) => c.listSubscriptions({ page, limit: PAGE }));
    return ok(all.length === 0 ? "No subscriptions." : all.map(subscriptionLine).join("\n"));
  }
  if (sub === "show" && rest.length === 2) {
    const subs = await ops.clientSubscriptions(id);
    return ok(!subs || subs.length === 0 ? "Not Found." : subs.map(subscriptionLine).join("\n"));
  }
  if (sub === "add" && rest.length === 4) {
    if (!/^[012]$/.test(qos)) return fail("QoS should be 0, 1, 2");
    const granted = await ops.subscribe(id, [{ topic, qos: Number(qos) }]);
    // EMQX prints this one without a newline.
    if (!granted) return fail("Error: Channel not found!");
    return (granted[0] ?? 0x80) < 0x80
      ? ok("ok")
      : fail(`Error: subscription refused (0x${granted[0]!.toString(16)})`);
  }
  if (sub === "del" && rest.length === 3) {
    const codes = await ops.unsubscribe(id, [topic]);
    return codes ? ok("ok") : fail("Error: Channel not found!");
  }
  return fail(usage(USAGE.subscriptions!));
}

async function retainer(rest: readonly string[], deps: CtlDeps): Promise<CtlAnswer> {
  const c = deps.control;
  const config = deps.config();
  if (!config.retainer.enable || !config.mqtt.retainAvailable) return ok("Retainer is not enabled");
  const [sub, a, b] = rest;
  const countLine = async () => {
    const stats = await c.stats();
    return `Number of retained messages: ${stats["retained.count"] ?? 0}`;
  };
  if (sub === "info" && rest.length === 1) return ok(await countLine());
  if (sub === "topics" && (rest.length === 1 || rest.length === 3)) {
    const page = rest.length === 3 ? Number(a) : 1;
    const limit = rest.length === 3 ? Number(b) : 1000;
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(limit) || limit < 1) {
      return fail(usage(USAGE.retainer!));
    }
    const head = await countLine();
    const p = await c.listRetained({ page, limit });
    return ok([head, ...p.data.map((m) => String(m.topic))].join("\n"));
  }
  if (sub === "clean" && rest.length <= 2) {
    await c.cleanRetained(a ?? "#");
    // EMQX prints nothing here.
    return ok("");
  }
  return fail(usage(USAGE.retainer!));
}

function banText(b: BanEntry): string {
  const until = Number.isFinite(b.until) && b.until > 0
    ? new Date(b.until).toISOString()
    : "infinity";
  return `Banned(as=${b.as}, who=${b.who}, by=${b.by}, reason=${JSON.stringify(b.reason)}, ` +
    `at=${new Date(b.at).toISOString()}, until=${until})`;
}

async function banned(rest: readonly string[], c: BrokerControl): Promise<CtlAnswer> {
  const [sub, as = "", who = "", reason, seconds] = rest;
  if (sub === "list" && rest.length === 1) {
    const all = c.listBans();
    return ok(all.length === 0 ? "No bans." : all.map(banText).join("\n"));
  }
  const validAs = (BAN_AS as readonly string[]).includes(as);
  if (sub === "add" && rest.length >= 3 && rest.length <= 5 && validAs) {
    const secs = seconds === undefined ? null : Number(seconds);
    if (secs !== null && (!Number.isInteger(secs) || secs <= 0)) {
      return fail("Error: Seconds must be a positive whole number");
    }
    try {
      const r = await c.addBan({
        as: as as BanAs,
        who,
        by: "culex_ctl",
        reason: reason ?? "",
        ...(secs !== null ? { until: Date.now() + secs * 1000 } : {}),
      });
      return "added" in r ? ok("ok") : fail(`Error: already exists: ${banText(r.exists)}`);
    } catch (err) {
      return fail(`Error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (sub === "del" && rest.length === 3 && validAs) {
    return (await c.deleteBan(as as BanAs, who)) ? ok("ok") : fail("Not Found.");
  }
  return fail(usage(USAGE.banned!));
}

/** EMQX's past tense of each verb in the success line. */
const DONE: Readonly<Record<ListenerAction, string>> = {
  stop: "Stop",
  start: "Started",
  restart: "Restarted",
};

/** `listeners stop|start|restart <Id>` in EMQX's words (emqx_mgmt_cli:listeners/1). */
async function listenerAction(verb: string, id: string, deps: CtlDeps): Promise<CtlAnswer> {
  if (verb !== "stop" && verb !== "start" && verb !== "restart") {
    return fail(usage(USAGE.listeners!));
  }
  const r = await deps.listenerAction(id, verb);
  if (r.ok) return ok(`${DONE[verb]} ${id} listener successfully.`);
  // `~0p` of the id as EMQX prints a string it cannot turn into a listener.
  if (r.error === "unknown") return fail(`Invalid listener: ${JSON.stringify(id)}`);
  return fail(`Failed to ${verb} ${id} listener: ${r.error}`);
}

function listenerText(l: CtlListener): string {
  const lines = [
    l.id,
    `  ${pad("listen_on", 16)}: ${l.listenOn}`,
    `  ${pad("acceptors", 16)}: 1`,
    `  ${pad("proxy_protocol", 16)}: ${l.proxyProtocol}`,
    // Sic: EMQX 5.8 prints "enbale".
    `  ${pad("enbale", 16)}: ${l.enable}`,
    `  ${pad("running", 16)}: ${l.running}`,
  ];
  if (l.running) {
    lines.push(
      `  ${pad("current_conn", 16)}: ${l.currentConn}`,
      `  ${pad("max_conns", 16)}: ${l.maxConns > 0 ? l.maxConns : "infinity"}`,
      `  ${pad("shutdown_count", 16)}: []`,
    );
  }
  return lines.join("\n");
}

/** Every item of a paged list, page by page. */
async function everything(
  fetch: (page: number) => Promise<{ data: Json[]; meta: { hasnext: boolean } }>,
): Promise<Json[]> {
  const out: Json[] = [];
  for (let page = 1;; page++) {
    const p = await fetch(page);
    out.push(...p.data);
    if (!p.meta.hasnext || p.data.length === 0) return out;
  }
}
