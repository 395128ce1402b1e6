package shim

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
)

// GroupMembers lists the live processes of group pgid, from /proc; zombies
// do not count (a zombie whose parent is not ours may wait a long time).
// ok is false where /proc cannot be read.
func GroupMembers(pgid int) (pids []int, ok bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	group := strconv.Itoa(pgid)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 2 && f[2] == group && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids, true
}

// GroupAlive reports whether group pgid has a live process other than
// except. Where /proc cannot be read it says yes: the callers ask once
// kill(2) found someone there.
func GroupAlive(pgid, except int) bool {
	pids, ok := GroupMembers(pgid)
	return !ok || slices.ContainsFunc(pids, func(p int) bool { return p != except })
}
