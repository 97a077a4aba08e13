/**
 * The parser of EMQX's acl.conf: Erlang terms, one rule per term, each ending in ".", with `%`
 * comments. Owned by src/auth/. parseAclFile(text) returns compiled AclRules or throws a
 * SyntaxError that names the line and what was expected. Pure: the caller reads the file.
 */

import {
  type AclRule,
  type ActionSpec,
  cidrOrThrow,
  type TopicSpec,
  topicSpec,
  type Who,
  WHO_ALL,
} from "./acl_rule.ts";

type Term =
  | { readonly t: "atom"; readonly v: string; readonly line: number }
  | { readonly t: "str"; readonly v: string; readonly line: number }
  | { readonly t: "num"; readonly v: number; readonly line: number }
  | { readonly t: "tuple"; readonly v: readonly Term[]; readonly line: number }
  | { readonly t: "list"; readonly v: readonly Term[]; readonly line: number };

interface Token {
  readonly k: "atom" | "str" | "num" | "punct" | "end";
  readonly v: string;
  readonly line: number;
}

function fail(line: number, msg: string): never {
  throw new SyntaxError(`acl.conf line ${line}: ${msg}`);
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\n") {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (c === "%") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === '"' || c === "'") {
      const start = line;
      let v = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\n") line++;
        if (text[i] === "\\" && i + 1 < text.length) {
          const e = text[i + 1] as string;
          v += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
        } else v += text[i++];
      }
      if (i >= text.length) fail(start, `unterminated ${c === '"' ? "string" : "quoted atom"}`);
      i++;
      out.push({ k: c === '"' ? "str" : "atom", v, line: start });
    } else if (/[a-z]/.test(c)) {
      const m = /^[a-zA-Z0-9_@]+/.exec(text.slice(i)) as RegExpExecArray;
      out.push({ k: "atom", v: m[0], line });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(text.slice(i)) as RegExpExecArray;
      out.push({ k: "num", v: m[0], line });
      i += m[0].length;
    } else if ("{}[],".includes(c)) {
      out.push({ k: "punct", v: c, line });
      i++;
    } else if (c === ".") {
      out.push({ k: "end", v: ".", line });
      i++;
    } else fail(line, `unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}

class Parser {
  #pos = 0;
  constructor(readonly tokens: Token[]) {}

  get done(): boolean {
    return this.#pos >= this.tokens.length;
  }

  #peek(): Token | undefined {
    return this.tokens[this.#pos];
  }

  #lastLine(): number {
    return this.tokens[this.#pos - 1]?.line ?? this.tokens[this.tokens.length - 1]?.line ?? 1;
  }

  term(): Term {
    const tok = this.tokens[this.#pos++];
    if (!tok) fail(this.#lastLine(), "unexpected end of file, expected a term");
    if (tok.k === "atom") return { t: "atom", v: tok.v, line: tok.line };
    if (tok.k === "str") return { t: "str", v: tok.v, line: tok.line };
    if (tok.k === "num") return { t: "num", v: Number(tok.v), line: tok.line };
    if (tok.v === "{" || tok.v === "[") {
      const close = tok.v === "{" ? "}" : "]";
      const items: Term[] = [];
      if (this.#peek()?.v === close) this.#pos++;
      else {
        for (;;) {
          items.push(this.term());
          const sep = this.tokens[this.#pos++];
          if (sep?.v === close) break;
          if (sep?.v !== ",") fail(sep?.line ?? tok.line, `expected "," or "${close}"`);
        }
      }
      return { t: tok.v === "{" ? "tuple" : "list", v: items, line: tok.line };
    }
    return fail(tok.line, `unexpected "${tok.v}"`);
  }

  endOfTerm(): void {
    const tok = this.tokens[this.#pos++];
    if (tok?.k !== "end") {
      fail(tok?.line ?? this.#lastLine(), `expected "." at the end of the rule`);
    }
  }
}

/**
 * Parses acl.conf text into rules, in file order.
 *
 * @example
 * ```ts
 * import { parseAclFile } from "./acl_file.ts";
 * import assert from "node:assert/strict";
 * const rules = parseAclFile(`{allow, {username, "u1"}, publish, ["t/\${clientid}"]}.\n{deny, all}.`);
 * assert.equal(rules.length, 2);
 * ```
 */
export function parseAclFile(text: string): AclRule[] {
  const p = new Parser(tokenize(text));
  const rules: AclRule[] = [];
  while (!p.done) {
    const term = p.term();
    p.endOfTerm();
    rules.push(compileRule(term));
  }
  return rules;
}

function compileRule(term: Term): AclRule {
  const line = term.line;
  if (term.t !== "tuple") fail(line, "expected a rule {Permission, Who, Action, Topics}");
  const [perm, who, action, topics, extra] = term.v;
  if (perm?.t !== "atom" || (perm.v !== "allow" && perm.v !== "deny")) {
    fail(line, "expected allow or deny as the first element");
  }
  if (term.v.length === 2 && isAtom(who, "all")) {
    return {
      permission: perm.v,
      who: WHO_ALL,
      action: { type: "all" },
      topics: [topicSpec("#")],
      line,
    };
  }
  if (term.v.length !== 4 || !who || !action || !topics || extra) {
    fail(line, "expected {allow|deny, Who, Action, Topics} or {allow|deny, all}");
  }
  return {
    permission: perm.v,
    who: compileWho(who),
    action: compileAction(action),
    topics: compileTopics(topics),
    line,
  };
}

function isAtom(t: Term | undefined, v: string): boolean {
  return t?.t === "atom" && t.v === v;
}

function str(t: Term | undefined, line: number, what: string): string {
  if (t?.t !== "str") fail(t?.line ?? line, `expected ${what} as a "string"`);
  return t.v;
}

function compileWho(t: Term): Who {
  if (isAtom(t, "all")) return WHO_ALL;
  if (t.t !== "tuple" || t.v[0]?.t !== "atom" || t.v.length !== 2) {
    fail(
      t.line,
      "expected Who: all, {username, ...}, {clientid, ...}, {ipaddr, ...}, {ipaddrs, [...]}, {'and', [...]} or {'or', [...]}",
    );
  }
  const kind = t.v[0].v;
  const arg = t.v[1] as Term;
  switch (kind) {
    case "user":
    case "username":
    case "client":
    case "clientid":
      return { kind: kind.startsWith("user") ? "username" : "clientid", value: strOrRe(arg) };
    case "ipaddr":
      return { kind: "ipaddrs", nets: [cidr(arg, str(arg, t.line, "an IP address or CIDR"))] };
    case "ipaddrs": {
      if (arg.t !== "list") fail(arg.line, "expected a list of IP addresses or CIDR ranges");
      return {
        kind: "ipaddrs",
        nets: arg.v.map((a) => cidr(a, str(a, arg.line, "an IP address or CIDR"))),
      };
    }
    case "and":
    case "or": {
      if (arg.t !== "list" || arg.v.length === 0) {
        fail(arg.line, `expected a non-empty list after '${kind}'`);
      }
      return { kind, list: arg.v.map(compileWho) };
    }
    default:
      return fail(t.line, `unknown Who "${kind}" (client_attr is not supported)`);
  }
}

function cidr(t: Term, text: string) {
  try {
    return cidrOrThrow(text);
  } catch (e) {
    return fail(t.line, (e as Error).message);
  }
}

function strOrRe(t: Term): string | RegExp {
  if (t.t === "str") return t.v;
  if (t.t === "tuple" && isAtom(t.v[0], "re") && t.v[1]?.t === "str" && t.v.length === 2) {
    try {
      return new RegExp(t.v[1].v);
    } catch (e) {
      return fail(t.line, `bad regular expression: ${(e as Error).message}`);
    }
  }
  return fail(t.line, `expected a "string" or {re, "regex"}`);
}

const ACTIONS = new Map<string, ActionSpec["type"]>([
  ["publish", "publish"],
  ["subscribe", "subscribe"],
  ["all", "all"],
  ["pubsub", "all"],
]);

function compileAction(t: Term): ActionSpec {
  if (t.t === "atom" && ACTIONS.has(t.v)) return { type: ACTIONS.get(t.v) as ActionSpec["type"] };
  if (t.t === "tuple" && t.v.length === 2 && t.v[0]?.t === "atom" && ACTIONS.has(t.v[0].v)) {
    const conds = t.v[1] as Term;
    if (conds.t !== "list") {
      fail(conds.line, "expected a list of conditions [{qos, ...}, {retain, ...}]");
    }
    let qos: number[] | undefined;
    let retain: boolean | undefined;
    for (const c of conds.v) {
      if (c.t !== "tuple" || c.v.length !== 2 || c.v[0]?.t !== "atom") {
        fail(c.line, "expected {qos, ...} or {retain, ...}");
      }
      const val = c.v[1] as Term;
      if (c.v[0].v === "qos") qos = qosList(val);
      else if (c.v[0].v === "retain") {
        if (isAtom(val, "all")) retain = undefined;
        else if (isAtom(val, "true") || isAtom(val, "false")) retain = isAtom(val, "true");
        else fail(val.line, "expected retain to be true, false or all");
      } else fail(c.line, `unknown condition "${c.v[0].v}" (expected qos or retain)`);
    }
    return { type: ACTIONS.get(t.v[0].v) as ActionSpec["type"], qos, retain };
  }
  return fail(t.line, "expected Action: publish, subscribe, all or {Action, [Conditions]}");
}

function qosList(t: Term): number[] {
  const list = t.t === "list" ? t.v : [t];
  return list.map((q) => {
    if (q.t !== "num" || q.v > 2) fail(q.line, "expected qos 0, 1, 2 or a list of them");
    return q.v;
  });
}

function compileTopics(t: Term): TopicSpec[] {
  if (isAtom(t, "all")) return [{ kind: "all" }];
  if (t.t !== "list") fail(t.line, `expected Topics: a list of "filter" or {eq, "filter"}`);
  return t.v.map((x) => {
    try {
      if (x.t === "str") return topicSpec(x.v);
      if (isAtom(x, "all")) return { kind: "all" } as const;
      if (x.t === "tuple" && isAtom(x.v[0], "eq") && x.v[1]?.t === "str" && x.v.length === 2) {
        return topicSpec(x.v[1].v, true);
      }
    } catch (e) {
      return fail(x.line, (e as Error).message);
    }
    return fail(x.line, `expected a topic "filter" or {eq, "filter"}`);
  });
}
