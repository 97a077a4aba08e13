#!/usr/bin/env bash
# Builds the single-file Culex executable with `deno compile`, one per target.
# Owns only dist/culex-<target>; builds, never runs anything, holds no runtime logic.
#
# Usage: ./compile.sh [TARGET...]      (default: the host's target)
#   TARGET: x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu |
#           x86_64-apple-darwin      | aarch64-apple-darwin       | all
# Environment:
#   DENO        the deno command, default "deno"; e.g. DENO="npx -y deno@2.9.6"
#   DENORT_BIN  a denort binary for the (single) target being built, see below
#
# Offline builds: `deno compile` downloads the runtime it embeds, `denort` (the Deno runtime
# without the CLI), for each target. Without network it uses either
#   - DENORT_BIN=/path/to/denort (read by deno compile from the environment), or
#   - $DENO_DIR/dl/release/v2.9.6/denort-<target>.zip placed in the cache beforehand.
# It must be a real denort: pointing DENORT_BIN at the full `deno` binary builds a file that
# starts a REPL instead of Culex.
set -euo pipefail

cd "$(dirname "$0")"

TARGETS_ALL=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin)

# Split on spaces on purpose, so DENO may be a command with arguments ("npx -y deno@2.9.6").
read -r -a DENO_CMD <<<"${DENO:-deno}"

host_target() {
  local arch os
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) echo "compile.sh: unsupported host architecture $(uname -m)" >&2; return 1 ;;
  esac
  case "$(uname -s)" in
    Linux) os=unknown-linux-gnu ;;
    Darwin) os=apple-darwin ;;
    *) echo "compile.sh: unsupported host OS $(uname -s)" >&2; return 1 ;;
  esac
  echo "$arch-$os"
}

targets=()
if [ "$#" -eq 0 ]; then
  targets=("$(host_target)")
else
  for arg in "$@"; do
    case "$arg" in
      all) targets+=("${TARGETS_ALL[@]}") ;;
      -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *)
        if [[ " ${TARGETS_ALL[*]} " != *" $arg "* ]]; then
          echo "compile.sh: unknown target '$arg' (one of: ${TARGETS_ALL[*]} all)" >&2
          exit 2
        fi
        targets+=("$arg")
        ;;
    esac
  done
fi

if [ -n "${DENORT_BIN:-}" ]; then
  # One denort runs on one target only; embedding it in another target's build would produce
  # a binary for the wrong platform.
  if [ "${#targets[@]}" -ne 1 ]; then
    echo "compile.sh: DENORT_BIN serves a single target; got ${#targets[@]} targets" >&2
    exit 2
  fi
  if [ ! -x "$DENORT_BIN" ]; then
    echo "compile.sh: DENORT_BIN=$DENORT_BIN is not an executable file" >&2
    exit 2
  fi
  export DENORT_BIN
fi

mkdir -p dist
# The dashboard's assets hold third-party code (uPlot) and are not committed: build them first.
"${DENO_CMD[@]}" run --allow-all tools/build_dashboard.ts
for target in "${targets[@]}"; do
  out="dist/culex-$target"
  echo "compile.sh: building $out" >&2
  # --include: the shard and store workers are loaded with new Worker(new URL(...)), and the embedded
  # default config is read from config/culex.yaml at run time; neither is a static import, so
  # deno compile would otherwise leave them out. Permissions are the broker's own needs:
  # net (listeners), read (config, certificates), env (CULEX__*), sys (core count), write
  # (durable store). src/dashboard/assets/ holds the built dashboard (tools/build_dashboard.ts),
  # read by src/dashboard/serve.ts with Deno.readFile, so it too must be included.
  if ! "${DENO_CMD[@]}" compile \
    --target "$target" \
    --output "$out" \
    --include workers/shard.ts \
    --include workers/store.ts \
    --include config/ \
    --include src/dashboard/assets/ \
    --allow-net --allow-read --allow-env --allow-sys --allow-write --allow-ffi \
    main.ts; then
    # deno compile's own error ends in a download failure several lines up; say what to do.
    if [ -z "${DENORT_BIN:-}" ]; then
      echo "compile.sh: deno compile failed for $target. If it could not download denort" \
        "(offline), give a real denort: DENORT_BIN=/path/to/denort ./compile.sh $target" \
        "(see ./compile.sh --help)" >&2
    else
      echo "compile.sh: deno compile failed for $target with DENORT_BIN=$DENORT_BIN" >&2
    fi
    exit 1
  fi
done
