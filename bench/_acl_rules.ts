/**
 * An ACL of `n` file rules in EMQX's acl.conf syntax, shaped like a real one: per-user and
 * per-client rules, regex and network rules, EMQX's default rules last. A client that none of the
 * specific rules name (every bench client) matches only near the end, after ~n others: the worst
 * case for a file source. Shared by bench/authz_bench.ts (decisions alone) and the fan-in QoS 1
 * scenario with an ACL (decisions on the wire).
 */
export function sampleAcl(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n - 4; i++) {
    const kind = i % 4;
    if (kind === 0) {
      lines.push(`{allow, {username, "user-${i}"}, publish, ["devices/\${clientid}/#"]}.`);
    } else if (kind === 1) {
      lines.push(`{allow, {clientid, "dev-${i}"}, subscribe, ["cmd/dev-${i}/+"]}.`);
    } else if (kind === 2) lines.push(`{deny, {username, {re, "^banned-${i}$"}}, all, ["#"]}.`);
    else {
      lines.push(
        `{allow, {ipaddr, "10.${
          i % 250
        }.0.0/16"}, {publish, [{qos, [0, 1]}]}, ["site/${i}/+/data"]}.`,
      );
    }
  }
  lines.push(
    `{allow, {'and', [{username, {re, "^fleet-"}}, {ipaddrs, ["127.0.0.0/8"]}]}, publish, ["fleet/\${username}/#"]}.`,
  );
  lines.push(`{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.`);
  lines.push(`{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.`);
  lines.push(`{allow, all}.`);
  return lines.join("\n");
}
