/**
 * Fails when a JSDoc example (a ```ts block in a source file, not marked `ignore`) cannot fail:
 * `deno test --doc` runs the examples, but `console.assert` only prints and a `// result`
 * comment checks nothing (issue #11: doc examples that run, with real assertions). Every example
 * must call node:assert (`assert`, `assert.equal`, ...) at least once. Part of `deno task check`.
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const problems: string[] = [];

async function walk(dir: URL): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) {
      if (e.name !== "node_modules" && !e.name.startsWith(".")) await walk(u);
    } else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
      check(u, await Deno.readTextFile(u));
    }
  }
}

function check(file: URL, text: string): void {
  const blocks = text.matchAll(/```ts([^\n]*)\n([\s\S]*?)```/g);
  for (const m of blocks) {
    if (/\bignore\b/.test(m[1] ?? "")) continue;
    const body = m[2] ?? "";
    const line = text.slice(0, m.index).split("\n").length;
    const where = `${file.pathname.slice(root.pathname.length)}:${line}`;
    if (body.includes("console.assert")) {
      problems.push(`${where}: console.assert only prints; use node:assert`);
    } else if (!/\bassert\b/.test(body)) {
      problems.push(`${where}: the example asserts nothing`);
    }
  }
}

for (const dir of ["src/", "tests/", "bench/", "tools/"]) await walk(new URL(dir, root));
if (problems.length > 0) {
  for (const p of problems) console.error(p);
  Deno.exit(1);
}
console.log("Every doc example asserts.");
