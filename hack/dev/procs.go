package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a direct child process of this one.
type child struct {
	pid, pgid int
}

// children lists this process's live direct children, read from /proc.
func children() []child {
	self := os.Getpid()
	var out []child
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so split after the last ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		pgid, _ := strconv.Atoi(fields[2])
		if ppid == self {
			out = append(out, child{pid: pid, pgid: pgid})
		}
	}
	return out
}

// killChildren ends every child of this process and, where the child leads
// its own process group (etcd, kube-apiserver and the manager all do), the
// whole group: SIGTERM first, SIGKILL after a grace period. It is the last
// line of defence on every exit path, so nothing outlives `make dev`.
func killChildren() {
	signalAll := func(sig syscall.Signal) int {
		n := 0
		own := syscall.Getpgrp()
		for _, c := range children() {
			n++
			if c.pgid == c.pid && c.pgid != own {
				_ = syscall.Kill(-c.pgid, sig)
			} else {
				_ = syscall.Kill(c.pid, sig)
			}
		}
		return n
	}
	if signalAll(syscall.SIGTERM) == 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(children()) == 0 {
			return
		}
		// Polling a process table has no event to wait on; this is not a test.
		time.Sleep(100 * time.Millisecond)
	}
	signalAll(syscall.SIGKILL)
}
