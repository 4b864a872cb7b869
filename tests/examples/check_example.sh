#!/usr/bin/env bash
# Builds an example project (examples/NAME) as a user would, against the
# installed strata package, then runs every line of its `expect` file and
# checks the exit status and a piece of the output.
#   check_example.sh SOURCE_DIR BUILD_DIR PREFIX BUILD_TYPE BINARY
set -euo pipefail
src="$1" build="$2" prefix="$3" type="$4" binary="$5"

mkdir -p "$build"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE="$type" \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" || exit 1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0 total=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  want_exit="$(echo "${line%%|*}" | xargs)"
  rest="${line#*|}"
  want_text="$(echo "${rest%%|*}" | sed 's/^ *//; s/ *$//')"
  args="$(echo "${rest#*|}" | sed "s#CONFIG#$src/configs#g")"
  total=$((total + 1))
  set +e
  # Run from an empty folder: schedule files land there, not in the source tree.
  out="$(cd "$work" && eval "'$build/$binary' $args" 2>&1)"
  got_exit=$?
  set -e
  if [[ "$got_exit" != "$want_exit" ]] || ! grep -qF -- "$want_text" <<<"$out"; then
    echo "FAIL: $binary $args: exit $got_exit (want $want_exit), want text: $want_text"
    echo "$out" | tail -20
    failed=$((failed + 1))
  else
    echo "ok:   $binary $args"
  fi
done <"$src/expect"
echo "$((total - failed)) passed, $failed failed"
[[ "$failed" == 0 ]]
