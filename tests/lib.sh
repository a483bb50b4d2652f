# Common settings for the harness scripts; sourced, never run.
# shellcheck shell=bash
set -eu

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTS=$REPO/tests
# shellcheck source=base.conf
. "$TESTS/base.conf"

CACHE=${UMIRROR_CACHE:-$HOME/.cache/umirror}
BASE_ID=$(printf '%s' "$BASE_VERSION" | tr -c 'A-Za-z0-9.\n' '_')
SRC=$CACHE/src-$BASE_ID
export CCACHE_DIR=$CACHE/ccache
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
# ccache hits across fresh clones need paths and mtimes out of the hash.
export CCACHE_BASEDIR=$CACHE
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime

# Top-level paths an overlay file may live under: kernel paths only.
KERNEL_PATHS="mm include io_uring drivers init Documentation tools lib MAINTAINERS"

JOBS=${JOBS:-$(nproc)}

die() {
	echo "error: $*" >&2
	exit 1
}

note() {
	echo "==> $*" >&2
}

# Overlay files, relative to the repo, one per line.
overlay_files() {
	local p
	for p in $KERNEL_PATHS; do
		git -C "$REPO" ls-files --cached --others --exclude-standard -- "$p"
	done | while read -r f; do
		[ -e "$REPO/$f" ] && printf '%s\n' "$f"
	done
}

# The build directory of a flavour (guest, debug, ...).
build_dir() {
	echo "$CACHE/build-$BASE_ID-$1"
}

# A worktree of the pristine base, kept across runs for incremental builds.
base_tree() {
	local wt=$CACHE/base-tree
	if [ "$(git -C "$wt" rev-parse HEAD 2>/dev/null)" != "$(git -C "$SRC" rev-parse base)" ]; then
		git -C "$SRC" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
		git -C "$SRC" worktree prune
		git -C "$SRC" worktree add -q --detach "$wt" base
	fi
	echo "$wt"
}

# The name of a KUnit suite config: its file name, or for a .kunitconfig
# its directory's name.
kunit_name() {
	local name
	name=$(basename "$1")
	case "$name" in
	.kunitconfig) basename "$(dirname "$1")" ;;
	*) echo "${name%.kunitconfig}" ;;
	esac
}
