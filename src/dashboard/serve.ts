/**
 * Serves the dashboard's web page: `/` (and `/index.html`) and the built assets under
 * `/assets/<name>`, read from src/dashboard/assets/ beside this module, which compile.sh embeds
 * in the binary (--include), so the page works offline. Asset names carry a content hash
 * (tools/build_dashboard.ts), so they are cached for a year; the page itself is revalidated each
 * time so a new build is picked up at once.
 *
 * Owns only that read-only, in-memory copy of the assets (a handful of files, read once each).
 * Knows nothing about the API: every other path answers null so the caller's router goes on.
 *
 * @module
 */

const ASSETS = new URL("./assets/", import.meta.url);
/** A built asset's name: letters, digits, '-', '_', one '.' before the extension. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css|html|svg|png|ico|map)$/;
const HASHED = /-[0-9a-f]{8,}\.(js|css)$/;

const CONTENT_TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  map: "application/json; charset=utf-8",
};

/** Security headers of every dashboard answer: no framing, no sniffing, only our own scripts. */
const COMMON_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

const cache = new Map<string, Uint8Array<ArrayBuffer> | null>();

async function readAsset(name: string): Promise<Uint8Array<ArrayBuffer> | null> {
  if (cache.has(name)) return cache.get(name) ?? null;
  let bytes: Uint8Array<ArrayBuffer> | null = null;
  try {
    bytes = await Deno.readFile(new URL(name, ASSETS));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // Unknown names are remembered too, but only names matching ASSET_NAME get here and the
  // cache stops growing at a bound, so a scan of random names cannot fill memory.
  if (bytes !== null || cache.size < 64) cache.set(name, bytes);
  return bytes;
}

/**
 * Answers a dashboard request, or null when the path is not the dashboard's (the API and
 * everything else). Only GET and HEAD; anything else on a dashboard path is 405.
 *
 * ```ts ignore
 * const response = await serveDashboard(request) ?? await serveApi(request);
 * ```
 */
export async function serveDashboard(request: Request): Promise<Response | null> {
  const path = new URL(request.url).pathname;
  let name: string;
  if (path === "/" || path === "/index.html") {
    name = "index.html";
  } else if (path.startsWith("/assets/") && ASSET_NAME.test(path.slice(8))) {
    name = path.slice(8);
  } else {
    return null;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method Not Allowed\n", {
      status: 405,
      headers: { ...COMMON_HEADERS, allow: "GET, HEAD" },
    });
  }
  const bytes = await readAsset(name);
  if (bytes === null && name === "index.html") {
    // A checkout run without `deno task start` (which builds them): say what to do.
    return new Response(
      "The dashboard is not built: run `deno task dashboard:build` (deno task start does it).\n",
      {
        status: 503,
        headers: { ...COMMON_HEADERS, "content-type": "text/plain; charset=utf-8" },
      },
    );
  }
  if (bytes === null) {
    return new Response("Not Found\n", {
      status: 404,
      headers: { ...COMMON_HEADERS, "content-type": "text/plain; charset=utf-8" },
    });
  }
  const ext = name.slice(name.lastIndexOf(".") + 1);
  const headers = {
    ...COMMON_HEADERS,
    "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream",
    "content-length": String(bytes.byteLength),
    "cache-control": HASHED.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
  };
  return new Response(request.method === "HEAD" ? null : bytes, { headers });
}
