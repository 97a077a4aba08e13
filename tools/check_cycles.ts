/**
 * Fails when the project's own modules import each other in a cycle, type-only imports
 * included (STYLE.md: imports flow one way). Reads the module graph from `deno info --json` for
 * main.ts and every source file under src/, workers/, bench/ and tests/, test files included (the
 * benchmarks and tests are code too: a type-only cycle between scenarios.ts and sc_big.ts went
 * unseen while only src/ was read, and unit tests under src/ import helpers from tests/_helpers/),
 * and prints each cycle found as a chain. Part of `deno task check`.
 *
 * @module
 */

const root = new URL("../", import.meta.url);

async function sourceFiles(dir: URL): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) out.push(...await sourceFiles(u));
    else if (e.name.endsWith(".ts")) out.push(u.pathname);
  }
  return out;
}

interface Dependency {
  code?: { specifier: string };
  type?: { specifier: string };
}
interface Module {
  specifier: string;
  dependencies?: Dependency[];
}

const entries = [
  new URL("main.ts", root).pathname,
  ...await sourceFiles(new URL("workers/", root)),
  ...await sourceFiles(new URL("src/", root)),
  ...await sourceFiles(new URL("bench/", root)),
  ...await sourceFiles(new URL("tests/", root)),
];
// deno info takes one root: a throw-away module that imports every entry stands for all of them.
const all = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(all, entries.map((e) => `import "file://${e}";`).join("\n"));
const r = await new Deno.Command(Deno.execPath(), {
  args: ["info", "--json", all],
  cwd: root.pathname,
}).output();
await Deno.remove(all);
if (!r.success) {
  console.error(new TextDecoder().decode(r.stderr));
  Deno.exit(1);
}
const graph = new Map<string, string[]>();
const ours = (s: string) => s.startsWith(root.href) && !s.includes("/node_modules/");
const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: Module[] };
for (const m of info.modules) {
  if (!ours(m.specifier)) continue;
  const deps = (m.dependencies ?? []).flatMap((d) =>
    [d.code?.specifier, d.type?.specifier].filter((s): s is string => !!s && ours(s))
  );
  graph.set(m.specifier, [...new Set(deps)]);
}

const cycles: string[][] = [];
const state = new Map<string, "visiting" | "done">();
const stack: string[] = [];
function visit(node: string): void {
  state.set(node, "visiting");
  stack.push(node);
  for (const next of graph.get(node) ?? []) {
    const s = state.get(next);
    if (s === "visiting") cycles.push([...stack.slice(stack.indexOf(next)), next]);
    else if (s === undefined) visit(next);
  }
  stack.pop();
  state.set(node, "done");
}
for (const node of graph.keys()) if (!state.has(node)) visit(node);

const short = (s: string) => s.slice(root.href.length);
if (cycles.length > 0) {
  for (const c of cycles) console.error(`import cycle: ${c.map(short).join(" → ")}`);
  Deno.exit(1);
}
console.log(`No import cycles among ${graph.size} modules.`);
