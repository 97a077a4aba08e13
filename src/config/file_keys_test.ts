/**
 * The keys that name a file read later by a shard or the supervisor (bootstrap CSVs, ACL files):
 * a missing file is a ConfigError naming the key and its line at load (the CLI exits 2), not an
 * uncaught NotFound in a shard worker after the store has opened.
 */

import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "./mod.ts";

function loadYaml(text: string): unknown {
  const file = Deno.makeTempFileSync({ suffix: ".yaml" });
  try {
    Deno.writeTextFileSync(file, text);
    return loadConfig({ file });
  } finally {
    Deno.removeSync(file);
  }
}

function errorOf(text: string): ConfigError {
  try {
    loadYaml(text);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

const MISSING = "/nonexistent-culex-dir/file.csv";

Deno.test("a missing bootstrap or ACL file is a ConfigError naming its key and line", () => {
  const cases: [string, string, number][] = [
    [
      `authentication:\n  - mechanism: password_based\n    backend: built_in_database\n` +
      `    bootstrap_file: ${MISSING}\n`,
      "authentication.0.bootstrap_file",
      4,
    ],
    [
      `authorization:\n  sources:\n    - type: file\n      path: ${MISSING}\n`,
      "authorization.sources.0.path",
      4,
    ],
    [`banned:\n  bootstrap_file: ${MISSING}\n`, "banned.bootstrap_file", 2],
    [`api_key:\n  bootstrap_file: ${MISSING}\n`, "api_key.bootstrap_file", 2],
  ];
  for (const [yaml, key, line] of cases) {
    const e = errorOf(yaml);
    assert.equal(e.key, key);
    assert.equal(e.line, line);
    assert.match(e.message, /expected a readable file \(.*No such file/);
    assert.ok(e.message.endsWith(`got "${MISSING}"`), e.message);
  }
});

Deno.test('a directory is not a readable file; an existing file and "" load', () => {
  const dir = Deno.makeTempDirSync();
  try {
    const e = errorOf(`banned:\n  bootstrap_file: ${dir}\n`);
    assert.match(e.message, /banned\.bootstrap_file .*\(not a regular file\)/);
    const csv = `${dir}/users.csv`;
    Deno.writeTextFileSync(csv, "user_id,password,is_superuser\n");
    loadYaml(
      `authentication:\n  - mechanism: password_based\n    backend: built_in_database\n` +
        `    bootstrap_file: ${csv}\nbanned:\n  bootstrap_file: ""\n`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
