package supervisor

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Credential looks up the user and group workers run as (app.user,
// app.group); nil when neither is set. Only root can switch users.
func Credential(name, group string) (*syscall.Credential, error) {
	if name == "" && group == "" {
		return nil, nil
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("app.user/app.group are set (%q/%q) but the gateway is not running as root", name, group)
	}
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if name != "" {
		u, err := lookupUser(name)
		if err != nil {
			return nil, fmt.Errorf("app.user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred.Uid, cred.Gid = uint32(uid), uint32(gid)
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil {
					cred.Groups = append(cred.Groups, uint32(n))
				}
			}
		}
	}
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("app.group: %w", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		cred.Gid = uint32(gid)
	}
	return cred, nil
}

// lookupUser finds a user by name or, failing that, by number: app.user
// may be either.
func lookupUser(s string) (*user.User, error) {
	u, err := user.Lookup(s)
	if err != nil && isNumber(s) {
		if byID, idErr := user.LookupId(s); idErr == nil {
			return byID, nil
		}
	}
	return u, err
}

// lookupGroup is lookupUser for app.group.
func lookupGroup(s string) (*user.Group, error) {
	g, err := user.LookupGroup(s)
	if err != nil && isNumber(s) {
		if byID, idErr := user.LookupGroupId(s); idErr == nil {
			return byID, nil
		}
	}
	return g, err
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}
