package cachefront

import (
	"fmt"
	"strings"

	"github.com/cachefront/cachefront/internal/keyspace"
)

// The rules for the names and keys users give; the Redis key layout built
// from them is in internal/keyspace.

const maxNameLen = 64

// validName accepts namespaces and cache names: 1–64 of [A-Za-z0-9_.-].
func validName(s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("name %q must be 1 to %d characters", s, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("name %q may contain only letters, digits, '_', '-' and '.'", s)
		}
	}
	return nil
}

// validTag accepts any non-empty tag of at most 1024 bytes.
func validTag(t string) error { return keyspace.ValidTag(t) }

// splitStoreKey splits "<cache>:<key>", the form Store.Delete takes.
func splitStoreKey(storeKey string) (name, key string, err error) {
	name, key, ok := strings.Cut(storeKey, ":")
	if !ok || validName(name) != nil || key == "" {
		return "", "", fmt.Errorf("%w: %q is not of the form <cache>:<key>", ErrInvalidKey, storeKey)
	}
	return name, key, nil
}
