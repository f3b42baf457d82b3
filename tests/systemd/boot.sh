#!/bin/sh
# SPDX-License-Identifier: ISC
# boot.sh - boot systemd as PID 1 of private namespaces, for run.sh.
#
#   boot.sh outer STATE CGROUP   join CGROUP, then unshare and run "inner"
#   boot.sh inner STATE          (PID 1 of the new namespaces) build the
#                                root, pivot into it, exec systemd
#
# Everything this mounts lives in the new mount namespace and disappears
# with it.  The new root is an overlay whose lower layer is "/" and whose
# upper layer is a tmpfs, so whatever systemd and the units write stays in
# memory; /proc/sys and sysfs are read-only, /dev holds only harmless
# nodes, and the capability bounding set leaves out what reaches
# kernel-wide state (modules, clock, raw I/O, kernel log, audit).
set -eu
umask 022

mode=$1
state=$2

case $mode in
outer)
	# The cgroup namespace is rooted where unshare runs: in CGROUP.
	echo $$ > "$3/cgroup.procs"
	echo $$ > "$state/unshare.pid"
	exec unshare --mount --uts --ipc --net --cgroup --pid --fork \
	    --propagation private sh "$0" inner "$state"
	;;
inner)
	;;
*)
	echo "usage: $0 outer STATE CGROUP | inner STATE" >&2
	exit 64
	;;
esac

# The host's /proc is still mounted here: our pid as the host sees it,
# which run.sh needs for nsenter.
read -r hostpid _ < /proc/self/stat
console=$(tty)

r=$state/root
mount -t tmpfs -o mode=0755,size=256m tmpfs "$r"
mkdir "$r/upper" "$r/work" "$r/new"
chmod 0755 "$r/upper"
mount -t overlay -o "lowerdir=/,upperdir=$r/upper,workdir=$r/work" \
    overlay "$r/new"
n=$r/new

mount -t proc -o nosuid,nodev,noexec proc "$n/proc"
for p in sys sysrq-trigger; do
	[ -e "$n/proc/$p" ] || continue
	mount --bind "$n/proc/$p" "$n/proc/$p"
	mount -o remount,bind,ro "$n/proc/$p"
done
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$n/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$n/sys/fs/cgroup"

mount -t tmpfs -o mode=0755,nosuid,size=4m tmpfs "$n/dev"
for d in null zero full random urandom tty; do
	: > "$n/dev/$d"
	mount --bind "/dev/$d" "$n/dev/$d"
done
mkdir "$n/dev/pts" "$n/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts \
    "$n/dev/pts"
ln -s pts/ptmx "$n/dev/ptmx"
: > "$n/dev/console"
mount --bind "$console" "$n/dev/console"
ln -s /proc/self/fd "$n/dev/fd"
ln -s /proc/self/fd/0 "$n/dev/stdin"
ln -s /proc/self/fd/1 "$n/dev/stdout"
ln -s /proc/self/fd/2 "$n/dev/stderr"

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$n/run"
# A /tmp of our own: the host's is neither seen nor emptied.
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$n/tmp"
# The host's persistent journal stays out of sight; ours is volatile.
if [ -d "$n/var/log/journal" ]; then
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$n/var/log/journal"
fi
# Only our unit configuration: none of the host's enabled units, masks
# or drop-ins.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$n/etc/systemd/system"

# Files of our own in the overlay (rm first: never write through a
# link that could lead out of it).
e=$n/etc/systemd
rm -f "$n/etc/machine-id"
tr -d '-' < /proc/sys/kernel/random/uuid > "$n/etc/machine-id"
mkdir -p "$e/journald.conf.d" "$n/etc/tmpfiles.d" "$e/system-generators"
rm -f "$e/journald.conf.d/test.conf"
printf '[Journal]\nStorage=volatile\n' > "$e/journald.conf.d/test.conf"
# The rule that empties /tmp at boot.
ln -sfn /dev/null "$n/etc/tmpfiles.d/tmp.conf"
# No generator: the host's fstab, crypttab, init scripts and gettys are
# not ours to start.
for g in /lib/systemd/system-generators/* \
    /usr/lib/systemd/system-generators/*; do
	if [ -e "$g" ]; then
		ln -sfn /dev/null "$e/system-generators/${g##*/}"
	fi
done

cat > "$e/system/preforkd-test.target" <<EOF
[Unit]
Description=preforkd test system
Requires=sysinit.target sockets.target systemd-journald.service
After=sysinit.target sockets.target systemd-journald.service
AllowIsolate=yes
EOF
ln -s preforkd-test.target "$e/system/default.target"

# Units that would touch kernel-wide state or real hardware, or that
# have nothing to do in a container.
for u in \
    systemd-modules-load.service kmod-static-nodes.service \
    systemd-sysctl.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    systemd-remount-fs.service systemd-random-seed.service \
    systemd-pstore.service systemd-repart.service \
    systemd-hwdb-update.service systemd-firstboot.service \
    systemd-udevd.service systemd-udevd-control.socket \
    systemd-udevd-kernel.socket systemd-udev-trigger.service \
    systemd-udev-settle.service \
    systemd-timesyncd.service systemd-networkd.service \
    systemd-networkd.socket systemd-resolved.service \
    systemd-logind.service getty.target console-getty.service \
    getty@.service serial-getty@.service \
    sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-kernel-config.mount sys-fs-fuse-connections.mount \
    dev-hugepages.mount systemd-journald-audit.socket \
    tmp.mount systemd-tmpfiles-clean.timer systemd-tmpfiles-clean.service
do
	ln -s /dev/null "$e/system/$u"
done

# Tell run.sh who we are, and let it take unshare out of our cgroup
# before systemd claims the cgroup tree.
echo "$hostpid" > "$state/pid.tmp"
mv "$state/pid.tmp" "$state/pid"
i=0
while [ ! -e "$state/go" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done

cd "$n"
mkdir .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot

# What a container manager leaves a container's systemd (and net_admin,
# for its own network namespace): no sys_module, sys_time, sys_rawio,
# syslog, audit_control or audit_read.
caps=-all
for c in audit_write chown dac_override dac_read_search fowner fsetid \
    ipc_owner kill lease linux_immutable mknod net_admin net_bind_service \
    net_broadcast net_raw setfcap setgid setpcap setuid sys_admin \
    sys_boot sys_chroot sys_nice sys_ptrace sys_resource sys_tty_config; do
	caps=$caps,+$c
done
exec setpriv --bounding-set "$caps" env -i container=preforkd-test \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd
