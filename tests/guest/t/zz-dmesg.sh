#!/bin/bash
# Runs last: the kernel log of the whole guest session has no warning,
# BUG, KASAN, KFENCE or lockdep report, no bad rss counter, hung task or
# RCU stall.
. "$(dirname "$0")/../lib.sh"
echo "1..1"
pattern='WARNING:|BUG:|KASAN:|KFENCE:|Oops|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|UBSAN:|Bad rss-counter|blocked for more than|rcu: .*[Ss]tall'
if dmesg | grep -E "$pattern" >/tmp/splats; then
	not_ok "kernel log is clean"
	sed 's/^/# /' /tmp/splats
	dmesg | grep -A30 -m1 -E "$pattern" | sed 's/^/# /'
else
	ok "kernel log is clean"
fi
