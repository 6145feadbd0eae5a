// Package keyspace names every Redis key and channel cachefront uses, for a
// Store with namespace ns:
//
//	ns:<cache>:<key>      an entry (keys over MaxRawKeyLen bytes, or starting
//	                      with '#', become '#' + SHA-256 hex)
//	ns:#t:<tag>           a tag's version
//	ns:#seq               the namespace's invalidation sequence
//	ns:#l:<cache>:<key>   the stampede lease of an entry
//	ns:#events            the channel of invalidation events
//
// Cache names and namespaces never contain ':' or start with '#', so the
// spaces cannot overlap.
package keyspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MaxRawKeyLen is the longest key kept as it is in its Redis key; longer
// ones are hashed.
const MaxRawKeyLen = 256

// ErrInvalidKey reports an empty key.
var ErrInvalidKey = errors.New("cachefront: invalid key")

// Keyspace builds the Redis keys of one namespace. The zero value is not
// usable; New makes one.
type Keyspace struct {
	Prefix string // "ns:"
	seqKey string // "ns:#seq"
	events string // "ns:#events"
}

// New returns the keyspace of namespace ns.
func New(ns string) Keyspace {
	return Keyspace{Prefix: ns + ":", seqKey: ns + ":#seq", events: ns + ":#events"}
}

// Entry returns the Redis key of key in cache name. Any non-empty key is
// accepted; long ones are hashed.
func (ks Keyspace) Entry(name, key string) (string, error) {
	p, err := EntryKey(name, key)
	if err != nil {
		return "", err
	}
	return ks.Join(p), nil
}

// EntryParts is an entry's Redis key without the namespace, in parts: the
// in-process tier's key, built without allocating for keys that are not
// hashed.
type EntryParts struct {
	Cache string
	Key   string // as in the Redis key: hashed when long
}

// EntryKey returns the parts of key's entry key in cache name.
func EntryKey(name, key string) (EntryParts, error) {
	if key == "" {
		return EntryParts{}, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > MaxRawKeyLen || key[0] == '#' {
		sum := sha256.Sum256([]byte(key))
		key = "#" + hex.EncodeToString(sum[:])
	}
	return EntryParts{Cache: name, Key: key}, nil
}

// Join returns the Redis key of an entry in parts.
func (ks Keyspace) Join(p EntryParts) string { return ks.Prefix + p.Cache + ":" + p.Key }

// ParseEntry splits an entry's Redis key into its parts; ok is false for a
// key that is not an entry key of this namespace.
func (ks Keyspace) ParseEntry(rkey string) (parts EntryParts, ok bool) {
	rest, ok := strings.CutPrefix(rkey, ks.Prefix)
	if !ok {
		return parts, false
	}
	parts.Cache, parts.Key, ok = strings.Cut(rest, ":")
	return parts, ok && parts.Cache != "" && parts.Cache[0] != '#'
}

// Tag returns the key of tag t's version.
func (ks Keyspace) Tag(t string) string { return ks.Prefix + "#t:" + t }

// Seq returns the key of the namespace's invalidation sequence.
func (ks Keyspace) Seq() string { return ks.seqKey }

// Lease returns the key of the stampede lease of the entry key rkey.
func (ks Keyspace) Lease(rkey string) string {
	return ks.Prefix + "#l:" + strings.TrimPrefix(rkey, ks.Prefix)
}

// Events returns the channel instances publish invalidation events on.
func (ks Keyspace) Events() string { return ks.events }

// ErrInvalidTag reports an empty or over-long tag.
var ErrInvalidTag = errors.New("cachefront: invalid tag")

// MaxTagLen is the longest tag accepted, in bytes.
const MaxTagLen = 1024

// ValidTag accepts any non-empty tag of at most MaxTagLen bytes.
func ValidTag(t string) error {
	if t == "" {
		return fmt.Errorf("%w: empty tag", ErrInvalidTag)
	}
	if len(t) > MaxTagLen {
		return fmt.Errorf("%w: tag of %d bytes, at most %d", ErrInvalidTag, len(t), MaxTagLen)
	}
	return nil
}
