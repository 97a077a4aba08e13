/**
 * Text of `culex ctl`, reproducing EMQX's `io_lib:format` output (apps/emqx_management/src/
 * emqx_mgmt_cli.erl): `~-Ns` padding (which also cuts a longer string to N characters), the
 * client line, the uptime wording of emqx_utils_calendar, the `broker` date format and the
 * usage lines of emqx_ctl (with every command's usage, USAGE). Private to src/supervisor/; pure
 * functions.
 *
 * @module
 */

import { BAN_AS } from "../auth/mod.ts";
import type { Json } from "./broker_control.ts";

/** Erlang's `~-Ns`: left-justified in N columns, cut to N when longer. */
export function pad(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s.padEnd(n);
}

/** `~-30s: ~w` lines of a stats or metrics map, sorted by name as EMQX sorts its atoms. */
export function statLines(values: Record<string, number>): string {
  return Object.keys(values).sort().map((k) => `${pad(k, 30)}: ${values[k]}`).join("\n");
}

/** emqx_utils_calendar:human_readable_duration_string/1: "1 days, 2 hours, 0 minutes, 5 seconds". */
export function uptimeText(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const parts: [number, string][] = [
    [Math.floor(seconds / 86400), " days"],
    [Math.floor((seconds % 86400) / 3600), " hours"],
    [Math.floor((seconds % 3600) / 60), " minutes"],
    [seconds % 60, " seconds"],
  ];
  // Leading zero units are dropped, the rest kept (as lists:dropwhile does).
  const first = parts.findIndex(([n]) => n !== 0);
  return first < 0 ? "" : parts.slice(first).map(([n, unit]) => `${n}${unit}`).join(", ");
}

/** emqx_sys:datetime/0: local time as "2026-12-07 13:05:09". */
export function dateTimeText(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${String(d.getFullYear()).padStart(4, "0")}-${two(d.getMonth() + 1)}-` +
    `${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** emqx_ctl:usage/1: one `~-48s# ~ts` line per command. */
export function usage(lines: readonly (readonly [string, string])[]): string {
  return lines.map(([cmd, desc]) => `${pad(cmd, 48)}# ${desc}`).join("\n");
}

/** An Erlang timestamp field (~w of milliseconds) from the API's RFC 3339 text. */
function ms(v: unknown): string {
  if (typeof v !== "string") return "undefined";
  const t = Date.parse(v);
  return Number.isNaN(t) ? "undefined" : String(t);
}

function text(v: unknown): string {
  return v === null || v === undefined || v === "" ? "undefined" : String(v);
}

function int(v: unknown): string {
  return typeof v === "number" ? String(v) : "0";
}

/** The `Client(...)` line of `clients list|show` for one client object of BrokerControl. */
export function clientLine(c: Json): string {
  const ip = typeof c.ip_address === "string" ? c.ip_address : null;
  // emqx_mgmt_util:ntoa then ":Port", also for IPv6 (no brackets).
  const peer = ip === null ? "undefined" : `${ip}:${c.port}`;
  const fields = [
    `username=${text(c.username)}`,
    `peername=${peer}`,
    `clean_start=${c.clean_start === true}`,
    `keepalive=${int(c.keepalive)}`,
    `session_expiry_interval=${int(c.expiry_interval)}`,
    `subscriptions=${int(c.subscriptions_cnt)}`,
    `inflight=${int(c.inflight_cnt)}`,
    `awaiting_rel=${int(c.awaiting_rel_cnt)}`,
    `delivered_msgs=${int(c.send_msg)}`,
    `enqueued_msgs=${int(c.mqueue_len)}`,
    `dropped_msgs=${int(c.mqueue_dropped)}`,
    `connected=${c.connected === true}`,
    `created_at=${ms(c.created_at)}`,
    `connected_at=${ms(c.connected_at)}`,
  ];
  if (typeof c.disconnected_at === "string") {
    fields.push(`disconnected_at=${ms(c.disconnected_at)}`);
  }
  return `Client(${String(c.clientid)}, ${fields.join(", ")})`;
}

/** One `subscriptions list|show` line. */
export function subscriptionLine(s: Json): string {
  return `${String(s.clientid)} -> topic:${String(s.topic)} qos:${int(s.qos)} nl:${int(s.nl)} rh:${
    int(s.rh)
  } rap:${int(s.rap)}`;
}

/** Every command's usage lines, by command, as `emqx ctl` prints them. */
export const USAGE: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  status: [["status", "Show broker status"]],
  broker: [
    ["broker", "Show broker version, uptime and description"],
    ["broker stats", "Show broker statistics of clients, topics, subscribers"],
    ["broker metrics", "Show broker metrics"],
  ],
  clients: [
    ["clients list", "List all clients"],
    ["clients show <ClientId>", "Show a client"],
    ["clients kick <ClientId>", "Kick out a client"],
  ],
  subscriptions: [
    ["subscriptions list", "List all subscriptions"],
    ["subscriptions show <ClientId>", "Show subscriptions of a client"],
    ["subscriptions add <ClientId> <Topic> <QoS>", "Add a static subscription manually"],
    ["subscriptions del <ClientId> <Topic>", "Delete a static subscription manually"],
  ],
  topics: [["topics list", "List all topics"], ["topics show <Topic>", "Show a topic"]],
  retainer: [
    ["retainer info", "Show the count of retained messages"],
    ["retainer topics", "Same as retainer topic 1 1000"],
    ["retainer topics <Start> <Limit>", "Show topics of retained messages by the specified range"],
    ["retainer clean", "Clean all retained messages"],
    ["retainer clean <Topic>", "Clean retained messages by the specified topic filter"],
  ],
  listeners: [
    ["listeners", "List listeners"],
    ["listeners stop    <Identifier>", "Stop a listener"],
    ["listeners start   <Identifier>", "Start a listener"],
    ["listeners restart <Identifier>", "Restart a listener"],
  ],
  banned: [
    ["banned list", "List the bans"],
    ["banned add <As> <Who> [<Reason>] [<Seconds>]", `Ban; As is one of ${BAN_AS.join("|")}`],
    ["banned del <As> <Who>", "Remove a ban"],
  ],
  cluster: [
    ["cluster join <Node>", "Join the cluster"],
    ["cluster leave", "Leave the cluster"],
    ["cluster force-leave <Node>", "Force the node leave from cluster"],
    ["cluster status [--json]", "Cluster status"],
  ],
  conf: [["conf reload", "Re-read the config file and apply what can change at run time"]],
  admins: [
    ["admins add <Username> <Password> <Description>", "Add dashboard user"],
    ["admins passwd <Username> <Password>", "Reset dashboard user password"],
    ["admins del <Username>", "Delete dashboard user"],
  ],
};
