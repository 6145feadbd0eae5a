package cachefront

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Redis key layout, for a Store with namespace ns:
//
//	ns:<cache>:<key>      an entry (keys over maxRawKeyLen bytes, or starting
//	                      with '#', become '#' + SHA-256 hex)
//	ns:#t:<tag>           a tag's version
//	ns:#seq               the namespace's invalidation sequence
//
// Cache names and namespaces never contain ':' or start with '#', so the
// spaces cannot overlap.
const (
	maxRawKeyLen = 256
	maxNameLen   = 64
)

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
func validTag(t string) error {
	if t == "" {
		return fmt.Errorf("%w: empty tag", ErrInvalidTag)
	}
	if len(t) > maxTagLen {
		return fmt.Errorf("%w: tag of %d bytes, at most %d", ErrInvalidTag, len(t), maxTagLen)
	}
	return nil
}

const maxTagLen = 1024

// keyspace builds the Redis keys of one namespace.
type keyspace struct {
	prefix string // "ns:"
	seqKey string // "ns:#seq"
	events string // "ns:#events"
}

func newKeyspace(ns string) keyspace {
	return keyspace{prefix: ns + ":", seqKey: ns + ":#seq", events: ns + ":#events"}
}

// entry returns the Redis key of key in cache name. Any non-empty key is
// accepted; long ones are hashed.
func (ks keyspace) entry(name, key string) (string, error) {
	lk, err := entryKey(name, key)
	if err != nil {
		return "", err
	}
	return ks.prefix + lk.cache + ":" + lk.key, nil
}

// entryKey is an entry's Redis key without the namespace, in parts: the
// in-process tier's key, built without allocating for keys that are not
// hashed.
type entryKeyParts struct {
	cache string
	key   string // as in the Redis key: hashed when long
}

func entryKey(name, key string) (entryKeyParts, error) {
	if key == "" {
		return entryKeyParts{}, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > maxRawKeyLen || key[0] == '#' {
		sum := sha256.Sum256([]byte(key))
		key = "#" + hex.EncodeToString(sum[:])
	}
	return entryKeyParts{cache: name, key: key}, nil
}

// parseEntry splits an entry's Redis key into its parts; ok is false for a
// key that is not an entry key of this namespace.
func (ks keyspace) parseEntry(rkey string) (parts entryKeyParts, ok bool) {
	rest, ok := strings.CutPrefix(rkey, ks.prefix)
	if !ok {
		return parts, false
	}
	parts.cache, parts.key, ok = strings.Cut(rest, ":")
	return parts, ok && parts.cache != "" && parts.cache[0] != '#'
}

func (ks keyspace) tag(t string) string { return ks.prefix + "#t:" + t }
func (ks keyspace) seq() string         { return ks.seqKey }

// splitStoreKey splits "<cache>:<key>", the form Store.Delete takes.
func splitStoreKey(storeKey string) (name, key string, err error) {
	name, key, ok := strings.Cut(storeKey, ":")
	if !ok || validName(name) != nil || key == "" {
		return "", "", fmt.Errorf("%w: %q is not of the form <cache>:<key>", ErrInvalidKey, storeKey)
	}
	return name, key, nil
}
