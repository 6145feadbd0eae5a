// Package entry defines the bytes cachefront stores under an entry key.
//
// Layout (all integers big-endian):
//
//	[0]      magic 0xCF
//	[1]      format version (1 or 2)
//	[2:18]   generation: 16 lowercase hex characters, new on every write
//	[18]     kind: 'v' value, 'n' cached not-found, 't' tombstone
//	[19:27]  created, Unix milliseconds
//	[27:35]  fresh until, Unix milliseconds
//	[35:39]  load duration, microseconds
//	[39:43]  type hash of the stored Go type
//	[43:47]  version 2 only: codec, the NameHash of its name
//	[47]     version 2 only: compression of the payload (0 none)
//	then     tag count (u16)
//	tags     per tag: u16 name length, name, u8 version length, version
//	payload  the encoded value, up to the end
//
// Version 1 is version 2 with the codec msgpack and no compression; Encode
// writes it for such entries, so that binaries that know only version 1
// keep sharing entries with this one.
//
// The generation sits at a fixed offset so that a Lua script can compare it
// with GETRANGE without decoding anything; the tag section is simple enough
// for a script to build. A reader that meets another magic or version treats
// the bytes as foreign and never guesses.
package entry

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"unsafe"
)

// Format constants.
const (
	Magic = 0xCF

	// GenOffset and GenLen locate the generation; scripts use them.
	GenOffset = 2
	GenLen    = 16

	// MaxTagLen bounds a tag name so that it fits its u16 length.
	MaxTagLen = 1024
	// MaxVersionLen bounds a tag version so that it fits its u8 length.
	MaxVersionLen = 255
)

// The two format versions and the length of their fixed parts before the
// tag count.
const (
	version1   = 1
	version2   = 2
	prefixLen1 = 43
	prefixLen2 = 48
	// minLen is the shortest entry: a version 1 prefix and a tag count.
	minLen = prefixLen1 + 2
)

// MsgpackCodec is the codec of version 1 entries: NameHash("msgpack").
var MsgpackCodec = NameHash("msgpack")

// NameHash is the 32-bit FNV-1a hash of name, the form in which headers
// record a type name or a codec name.
func NameHash(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32()
}

// Kind says what an entry holds.
type Kind byte

// Entry kinds.
const (
	KindValue     Kind = 'v'
	KindNotFound  Kind = 'n'
	KindTombstone Kind = 't'
)

// ErrCorrupt reports bytes that are not a well-formed entry of this format.
var ErrCorrupt = errors.New("entry: corrupt or foreign entry")

// Tag is a tag name with the version it had when the entry was built.
type Tag struct {
	Name    string
	Version string
}

// Header is the metadata stored in front of a payload.
type Header struct {
	Gen        string
	Kind       Kind
	Created    int64 // Unix ms
	FreshUntil int64 // Unix ms
	LoadMicros uint32
	TypeHash   uint32
	// Codec is the NameHash of the codec that wrote the payload.
	Codec uint32
	// Compression is how the payload is compressed, 0 for not at all; the
	// values are the engine's (internal/compress).
	Compression byte
	Tags        []Tag
}

// v1 reports whether h is written in format version 1.
func (h *Header) v1() bool { return h.Codec == MsgpackCodec && h.Compression == 0 }

// prefixLen is the length of h's fixed part before the tag count.
func (h *Header) prefixLen() int {
	if h.v1() {
		return prefixLen1
	}
	return prefixLen2
}

// NewGen returns a fresh random generation.
func NewGen() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// AppendPrefix appends the fixed part of h, up to and excluding the tag count.
func AppendPrefix(dst []byte, h *Header) []byte {
	version := byte(version1)
	if !h.v1() {
		version = version2
	}
	dst = append(dst, Magic, version)
	dst = appendGen(dst, h.Gen)
	dst = append(dst, byte(h.Kind))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.Created))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.FreshUntil))
	dst = binary.BigEndian.AppendUint32(dst, h.LoadMicros)
	dst = binary.BigEndian.AppendUint32(dst, h.TypeHash)
	if version == version2 {
		dst = binary.BigEndian.AppendUint32(dst, h.Codec)
		dst = append(dst, h.Compression)
	}
	return dst
}

func appendGen(dst []byte, gen string) []byte {
	if len(gen) == GenLen {
		return append(dst, gen...)
	}
	// A malformed generation is padded rather than shifting every later field.
	for i := 0; i < GenLen; i++ {
		if i < len(gen) {
			dst = append(dst, gen[i])
		} else {
			dst = append(dst, '0')
		}
	}
	return dst
}

// AppendTag appends one tag record; it is the format the Lua script builds too.
func AppendTag(dst []byte, name, version string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	dst = append(dst, name...)
	dst = append(dst, byte(len(version)))
	return append(dst, version...)
}

// EncodedLen returns the length of the entry Encode makes of h and a payload
// of payloadLen bytes.
func EncodedLen(h *Header, payloadLen int) int {
	n := h.prefixLen() + 2 + payloadLen
	for _, t := range h.Tags {
		n += 3 + len(t.Name) + len(t.Version)
	}
	return n
}

// Encode appends the whole entry (header and payload) to dst.
// It returns an error when a tag or version does not fit the format.
func Encode(dst []byte, h *Header, payload []byte) ([]byte, error) {
	if len(h.Tags) > 0xFFFF {
		return dst, fmt.Errorf("entry: %d tags, at most %d", len(h.Tags), 0xFFFF)
	}
	dst = AppendPrefix(dst, h)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Tags)))
	for _, t := range h.Tags {
		if len(t.Name) > MaxTagLen || len(t.Version) > MaxVersionLen {
			return dst, fmt.Errorf("entry: tag %.32q or its version is too long", t.Name)
		}
		dst = AppendTag(dst, t.Name, t.Version)
	}
	return append(dst, payload...), nil
}

// View is a decoded entry whose tag section and payload alias the input.
type View struct {
	Header
	tagCount int
	tagBytes []byte
	Payload  []byte
}

// Decode parses b without copying the tag section or the payload. It returns
// ErrCorrupt (wrapped) for anything that is not a complete entry of this
// format; it never panics.
func Decode(b []byte) (View, error) {
	v, err := decode(b)
	if err == nil {
		v.Gen = string(b[GenOffset : GenOffset+GenLen])
	}
	return v, err
}

// decode is Decode without the generation.
func decode(b []byte) (View, error) {
	var v View
	if len(b) < minLen {
		return v, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != Magic {
		return v, fmt.Errorf("%w: bad magic %#x", ErrCorrupt, b[0])
	}
	prefix := prefixLen1
	switch b[1] {
	case version1:
		v.Codec = MsgpackCodec
	case version2:
		prefix = prefixLen2
		if len(b) < prefix+2 {
			return v, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
		}
		v.Codec = binary.BigEndian.Uint32(b[43:47])
		v.Compression = b[47]
	default:
		return v, fmt.Errorf("%w: format version %d", ErrCorrupt, b[1])
	}
	v.Kind = Kind(b[18])
	switch v.Kind {
	case KindValue, KindNotFound, KindTombstone:
	default:
		return v, fmt.Errorf("%w: kind %#x", ErrCorrupt, b[18])
	}
	v.Created = int64(binary.BigEndian.Uint64(b[19:27]))
	v.FreshUntil = int64(binary.BigEndian.Uint64(b[27:35]))
	v.LoadMicros = binary.BigEndian.Uint32(b[35:39])
	v.TypeHash = binary.BigEndian.Uint32(b[39:43])
	v.tagCount = int(binary.BigEndian.Uint16(b[prefix : prefix+2]))
	rest := b[prefix+2:]
	start := rest
	for i := 0; i < v.tagCount; i++ {
		if len(rest) < 2 {
			return v, fmt.Errorf("%w: truncated tag %d", ErrCorrupt, i)
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if n > MaxTagLen {
			return v, fmt.Errorf("%w: tag %d is %d bytes long", ErrCorrupt, i, n)
		}
		if len(rest) < n+1 {
			return v, fmt.Errorf("%w: truncated tag %d", ErrCorrupt, i)
		}
		m := int(rest[n])
		rest = rest[n+1:]
		if len(rest) < m {
			return v, fmt.Errorf("%w: truncated tag version %d", ErrCorrupt, i)
		}
		rest = rest[m:]
	}
	v.tagBytes = start[:len(start)-len(rest)]
	v.Payload = rest
	return v, nil
}

// TagCount reports how many tags the entry carries.
func (v *View) TagCount() int { return v.tagCount }

// TagSeq yields each tag's name and recorded version, aliasing the input.
func (v *View) TagSeq() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		rest := v.tagBytes
		for i := 0; i < v.tagCount; i++ {
			n := int(binary.BigEndian.Uint16(rest))
			name := rest[2 : 2+n]
			m := int(rest[2+n])
			ver := rest[3+n : 3+n+m]
			rest = rest[3+n+m:]
			if !yield(name, ver) {
				return
			}
		}
	}
}

// TagNames returns copies of the tag names.
func (v *View) TagNames() []string {
	names := make([]string, 0, v.tagCount)
	for name := range v.TagSeq() {
		names = append(names, string(name))
	}
	return names
}

// DecodeString decodes an entry held in a string (as go-redis returns it)
// without copying it. The View aliases s read-only; nothing may write to
// View.Payload.
func DecodeString(s string) (View, error) {
	v, err := decode(unsafe.Slice(unsafe.StringData(s), len(s)))
	if err == nil {
		v.Gen = s[GenOffset : GenOffset+GenLen] // the same bytes, without a copy
	}
	return v, err
}
