# TAP helpers for guest tests; sourced.
# shellcheck shell=bash
set -eu
tap_n=0
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}
not_ok() {
	tap_n=$((tap_n + 1))
	echo "not ok $tap_n - $*"
}
# check DESCRIPTION COMMAND...: one TAP line from a command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# nullb_memory_backed: a 256 MiB memory-backed null_blk device, made once
# per boot, so written data can be read back; prints its /dev path.
nullb_memory_backed() {
	local d=/sys/kernel/config/nullb/umirror
	if [ ! -d "$d" ]; then
		mkdir "$d"
		echo 256 >"$d/size"
		echo 1 >"$d/memory_backed"
		echo 1 >"$d/power"
	fi
	# The disk is named after its configfs directory.
	[ -b /dev/umirror ] || { echo "no /dev/umirror after powering $d on" >&2; return 1; }
	echo /dev/umirror
}

# nullb_slow NAME MS: a 16 MiB memory-backed null_blk device whose every
# command completes MS milliseconds after it starts (a timer, irqmode 2),
# so a test can act while I/O is in flight; made once per boot, prints its
# /dev path.
nullb_slow() {
	local d=/sys/kernel/config/nullb/$1
	if [ ! -d "$d" ]; then
		mkdir "$d"
		echo 16 >"$d/size"
		echo 1 >"$d/memory_backed"
		echo 2 >"$d/irqmode"
		echo $(($2 * 1000000)) >"$d/completion_nsec"
		echo 1 >"$d/power"
	fi
	[ -b "/dev/$1" ] || { echo "no /dev/$1 after powering $d on" >&2; return 1; }
	echo "/dev/$1"
}

# nullb_throttled NAME MBPS: a 16 MiB memory-backed null_blk device
# throttled to MBPS MiB/s: each 20 ms tick lets MBPS * 20971 bytes
# through, and a command over the budget is requeued and its data copied
# only when a later tick dispatches it, so a test can queue commands
# whose data arrives late. No scheduler, so commands keep their order;
# at most 16 KiB each, as one larger than a tick's budget would never
# pass (MBPS >= 1). Made once per boot, prints its /dev path.
nullb_throttled() {
	local d=/sys/kernel/config/nullb/$1
	if [ ! -d "$d" ]; then
		mkdir "$d"
		echo 16 >"$d/size"
		echo 1 >"$d/memory_backed"
		echo 1 >"$d/no_sched"
		echo 32 >"$d/max_sectors"
		echo "$2" >"$d/mbps"
		echo 1 >"$d/power"
	fi
	[ -b "/dev/$1" ] || { echo "no /dev/$1 after powering $d on" >&2; return 1; }
	echo "/dev/$1"
}

# memcg NAME: a memory cgroup, made once per boot; prints its directory.
memcg() {
	local root=/sys/fs/cgroup cg=/sys/fs/cgroup/$1
	mountpoint -q "$root" || mount -t cgroup2 none "$root" || return 1
	grep -qw memory "$root/cgroup.subtree_control" ||
		echo +memory >"$root/cgroup.subtree_control" || return 1
	mkdir -p "$cg" && echo "$cg"
}

# memcg_stat DIR KEY: a number of the memcg's memory.stat (0 if absent).
memcg_stat() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1/memory.stat"
}

# oom_cgroup NAME: a 32 MiB memcg without swap; prints its directory.
oom_cgroup() {
	local cg
	cg=$(memcg "$1") &&
		echo 32M >"$cg/memory.max" &&
		echo 0 >"$cg/memory.swap.max" || return 1
	echo "$cg"
}

# scratch_ext4: ext4 on the scratch disk (tests/vm --scratch), made and
# mounted once per boot; prints the mount point, or nothing without a disk.
scratch_ext4() {
	local mnt=/tmp/ext4
	if ! mountpoint -q "$mnt"; then
		[ -b /dev/vda ] || return 0
		mkfs.ext4 -q -F /dev/vda >/dev/null
		mkdir -p "$mnt"
		mount -t ext4 /dev/vda "$mnt"
	fi
	echo "$mnt"
}

# swap_on: swap on zram0, set up once per boot.
swap_on() {
	grep -q '^/dev/zram0 ' /proc/swaps && return 0
	[ -e /sys/block/zram0 ] || return 1
	# disksize can be set only while the device is unused (it reads 0).
	[ "$(cat /sys/block/zram0/disksize)" != 0 ] ||
		echo 256M >/sys/block/zram0/disksize || return 1
	mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
}

# pins_held: FOLL_PIN pins held now, the per-CPU counter deltas folded in.
pins_held() {
	echo 1 >/proc/sys/vm/stat_refresh
	awk '/^nr_foll_pin_(acquired|released) / { v[$1] = $2 }
		END { print v["nr_foll_pin_acquired"] - v["nr_foll_pin_released"] }' /proc/vmstat
}
