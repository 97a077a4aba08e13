/**
 * Builds the dashboard (`deno task dashboard:build`): bundles dashboard/main.ts with npm:esbuild
 * (uPlot included) into src/dashboard/assets/, beside one stylesheet (uPlot's and ours) and
 * index.html. The output holds third-party code (uPlot), so it is built, never committed
 * (.gitignore): `deno task start` builds it when missing (`--if-missing`), compile.sh before it
 * embeds it, tests/26 before it serves it. Output names carry a content hash, so serve.ts can let
 * browsers cache them for a year.
 *
 * `--check` builds in memory and fails when src/dashboard/assets/ differs (a stale build).
 *
 * Owns src/dashboard/assets/ (deletes its old hashed files); reads dashboard/ and npm packages
 * from Deno's cache; fetches nothing at run time of the broker.
 *
 * @module
 */

import * as esbuild from "esbuild";

const root = new URL("../", import.meta.url);
const assetsDir = new URL("src/dashboard/assets/", root);
const UPLOT = "npm:uplot@1.6.32";

/** Where Deno keeps an npm package's files (`deno info` downloads it if missing). */
async function npmPackageDir(specifier: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", specifier],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`deno info ${specifier} failed`);
  const name = specifier.slice(4, specifier.lastIndexOf("@"));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    npmPackages: Record<string, { name: string; localPath?: string }>;
  };
  const pkg = Object.values(info.npmPackages).find((p) => p.name === name);
  if (!pkg?.localPath) throw new Error(`${specifier} is not in Deno's cache`);
  return pkg.localPath;
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 5)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Builds every asset in memory: file name → contents. */
async function buildAssets(): Promise<Map<string, string>> {
  const uplotDir = await npmPackageDir(UPLOT);
  const license = (await Deno.readTextFile(`${uplotDir}/LICENSE`)).replaceAll("*/", "* /");
  // esbuild does not know Deno's npm cache: point the bare "uplot" import at its ESM build.
  const resolveNpm: esbuild.Plugin = {
    name: "deno-npm-uplot",
    setup(build) {
      build.onResolve({ filter: /^uplot$/ }, () => ({ path: `${uplotDir}/dist/uPlot.esm.js` }));
    },
  };
  const result = await esbuild.build({
    entryPoints: [new URL("dashboard/main.ts", root).pathname],
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "eof",
    write: false,
    plugins: [resolveNpm],
    // uPlot's MIT license travels with the bundled copy of its code.
    footer: { js: `/*! uPlot ${UPLOT.slice(UPLOT.lastIndexOf("@") + 1)}:\n${license}*/` },
    logLevel: "error",
  });
  await esbuild.stop();
  const js = result.outputFiles[0]?.text;
  if (js === undefined) throw new Error("esbuild produced no output");
  const css =
    `/*! uPlot ${
      UPLOT.slice(UPLOT.lastIndexOf("@") + 1)
    }'s styles, MIT License (in the script) */\n` +
    await Deno.readTextFile(`${uplotDir}/dist/uPlot.min.css`) + "\n" +
    await Deno.readTextFile(new URL("dashboard/style.css", root));
  const jsName = `app-${await shortHash(js)}.js`;
  const cssName = `app-${await shortHash(css)}.css`;
  const html = (await Deno.readTextFile(new URL("dashboard/index.html", root)))
    .replace("%APP_JS%", `assets/${jsName}`)
    .replace("%APP_CSS%", `assets/${cssName}`);
  return new Map([["index.html", html], [jsName, js], [cssName, css]]);
}

async function readDir(dir: URL): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) files.set(e.name, await Deno.readTextFile(new URL(e.name, dir)));
  }
  return files;
}

const built = await Deno.stat(new URL("index.html", assetsDir)).then(() => true, () => false);
if (Deno.args.includes("--if-missing") && built) Deno.exit(0);
const assets = await buildAssets();
if (Deno.args.includes("--check")) {
  const committed = await readDir(assetsDir).catch(() => new Map<string, string>());
  const same = committed.size === assets.size &&
    [...assets].every(([name, text]) => committed.get(name) === text);
  if (!same) {
    console.error("src/dashboard/assets/ is stale: run `deno task dashboard:build`");
    Deno.exit(1);
  }
  console.log("src/dashboard/assets/ matches dashboard/");
} else {
  await Deno.remove(assetsDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(assetsDir, { recursive: true });
  for (const [name, text] of assets) await Deno.writeTextFile(new URL(name, assetsDir), text);
  console.log(`wrote ${[...assets.keys()].join(", ")} to src/dashboard/assets/`);
}
