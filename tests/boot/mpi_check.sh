#!/usr/bin/env bash
# `mpirun -n 2 strata check ...` against `strata check ...` in one process:
# the same stdout (but for the timing and the host-threads part of the
# strategy line), the same stderr (followers print nothing), the same exit
# status, and the same files (a failure's schedule, byte for byte; nothing
# else). Each command runs in an empty folder of its own, so the relative
# --schedule path reads the same in both outputs.
#   mpi_check.sh STRATA_BINARY SOURCE_DIR
# A missing mpirun fails the test: ./run installs Open MPI.
set -uo pipefail
strata="$(realpath "$1")" src="$(realpath "$2")"
if [[ ! -x "$strata" ]]; then
  echo "FAIL: $1 is no executable"
  exit 1
fi

if ! command -v mpirun >/dev/null; then
  echo "FAIL: mpirun is not on PATH (./run installs openmpi-bin)"
  exit 1
fi
# CI runs as root, in containers without a network: the test's environment
# (tests/boot/CMakeLists.txt) says so to Open MPI; these are its defaults
# when the script is run by hand.
export OMPI_ALLOW_RUN_AS_ROOT="${OMPI_ALLOW_RUN_AS_ROOT:-1}"
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}"
export OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader}"
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# What legitimately differs between runs: the seconds and the rate of the
# executions line, and how many host threads (and ranks) the strategy line
# names.
normalize() {
  sed -E -e 's/, [0-9]+\.[0-9]+ s \([0-9]+ executions\/s\)/, X s (X executions\/s)/' \
         -e '/^  strategy /s/; [^;]*host thread.*$/; HOST THREADS/'
}

# The sanitizer build's one warning per process (boot/ fibers switch by
# swapcontext there), as tests/boot/test_util.h ignores it.
quiet_asan() {
  grep -v "ASan doesn't fully support makecontext/swapcontext" || true
}

failed=0 total=0
# expect EXIT ARGS...: runs `strata ARGS` alone and under mpirun -n 2.
expect() {
  local want_exit="$1"; shift
  total=$((total + 1))
  local case_dir="$work/case$total"
  mkdir -p "$case_dir/one" "$case_dir/mpi"
  (cd "$case_dir/one" && timeout 300 "$strata" "$@" >../one.out 2>../one.err)
  local one_exit=$?
  (cd "$case_dir/mpi" && timeout 300 mpirun -q -n 2 --oversubscribe --bind-to none \
     "$strata" "$@" >../mpi.out 2>../mpi.err)
  local mpi_exit=$?
  local problems=()
  [[ "$one_exit" == "$want_exit" ]] || problems+=("one process exited $one_exit, want $want_exit")
  if [[ "$mpi_exit" != "$want_exit" ]]; then
    # mpirun -q hides its own errors too (a rank that could not start, or
    # that died): say them.
    problems+=("mpirun -n 2 exited $mpi_exit, want $want_exit; again without -q:
$(cd "$case_dir/mpi" && timeout 300 mpirun -n 2 --oversubscribe --bind-to none "$strata" "$@" 2>&1 >/dev/null | head -20)")
  fi
  if ! diff <(normalize <"$case_dir/one.out") <(normalize <"$case_dir/mpi.out") >"$case_dir/out.diff"; then
    problems+=("stdout differs (< one process, > mpirun -n 2):
$(head -40 "$case_dir/out.diff")")
  fi
  if ! diff <(quiet_asan <"$case_dir/one.err") <(quiet_asan <"$case_dir/mpi.err") >"$case_dir/err.diff"; then
    problems+=("stderr differs (< one process, > mpirun -n 2):
$(head -20 "$case_dir/err.diff")")
  fi
  if ! diff -r "$case_dir/one" "$case_dir/mpi" >"$case_dir/files.diff"; then
    problems+=("the files written differ:
$(head -20 "$case_dir/files.diff")")
  fi
  if [[ "$want_exit" == 1 && -z "$(ls "$case_dir/one")" ]]; then
    problems+=("the failure wrote no schedule file")
  fi
  if [[ ${#problems[@]} -gt 0 ]]; then
    echo "FAIL: strata $*"
    printf '  %s\n' "${problems[@]}"
    failed=$((failed + 1))
  else
    echo "ok:   strata $*"
  fi
}

check=(check --jobs 1 --schedule fail.schedule)
# (a) exhaustive, passes; (b) random, passes; (c) and (d) known-bad configs
# that fail, found at the first execution and after 20 of a dfs.
expect 0 "${check[@]}" "$src/configs/check/ticket.toml" --strategy dfs
expect 0 "${check[@]}" "$src/configs/check/ticket.toml" --strategy random --runs 20000
expect 1 "${check[@]}" "$src/configs/check/bad/ticket-no-bump.toml"
expect 1 "${check[@]}" "$src/configs/check/bad/queue-full-overwrites.toml" --strategy dfs
# Bad input: one error line, from the leader only.
expect 2 "${check[@]}" "$src/configs/check/ticket.toml" --runs 0
# Any other command is the leader's alone.
expect 0 layers "$src/configs/check/ticket.toml"

echo "$((total - failed)) passed, $failed failed"
[[ "$failed" == 0 ]]
