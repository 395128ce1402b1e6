package unitgen

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInstance is the error of an instance name that systemd would take
// only escaped (see [CheckInstance]).
var ErrInstance = errors.New(`is not a systemd instance name as it is: use only letters, digits, "-", "_", "." and ":", ` +
	`not "." first, at most 239 characters`)

// maxInstance keeps gateway@NAME.service within systemd's 255 characters.
const maxInstance = 255 - len("gateway@.service")

// CheckInstance returns an error wrapping [ErrInstance] unless name can be
// the instance of gateway@NAME.socket and gateway@NAME.service as it is,
// without systemd-escape(1): the characters systemd allows in unit names
// but "\" (its escape character) and "@", not "." first (systemd-escape
// escapes a leading dot, and the generator skips hidden files). The units
// find their config as /etc/gateway/%i.toml, so NAME must be the file's
// name exactly.
func CheckInstance(name string) error {
	if name == "" || len(name) > maxInstance || name[0] == '.' {
		return fmt.Errorf("instance name %q %w", name, ErrInstance)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0
		if !ok {
			return fmt.Errorf("instance name %q %w", name, ErrInstance)
		}
	}
	return nil
}
