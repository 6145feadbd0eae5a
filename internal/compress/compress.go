// Package compress compresses entry payloads and response bodies, and
// decompresses them within a bound: a corrupt or hostile input that claims
// a huge decoded size is an error, never a huge allocation, and damaged
// data is an error, never wrong bytes (both formats carry a checksum of
// what they hold).
//
// Two algorithms from github.com/klauspost/compress are offered. S2 (a
// faster, denser Snappy) compresses cache values: decoding a 1 KiB value
// costs well under a microsecond. Its block format has no checksum, so a
// CRC-32C of the uncompressed bytes precedes the block: [crc:4, big-endian]
// [s2 block]. Zstd compresses HTTP bodies, because it
// is a registered content coding (RFC 8878) that browsers accept, so a
// stored body can be sent as it is.
package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Algorithm is how a payload was compressed; its values are stored in entry
// headers and never change.
type Algorithm uint8

// The algorithms.
const (
	None Algorithm = 0
	S2   Algorithm = 1
	Zstd Algorithm = 2
)

// String names the algorithm ("none", "s2", "zstd").
func (a Algorithm) String() string {
	switch a {
	case None:
		return "none"
	case S2:
		return "s2"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// Known reports whether a is an algorithm this package implements.
func (a Algorithm) Known() bool { return a <= Zstd }

// MaxDecodedLen bounds what Decompress produces. Compress leaves larger
// inputs uncompressed, so everything it writes can be read back.
const MaxDecodedLen = 64 << 20

// ErrCorrupt reports input that does not decompress within MaxDecodedLen.
var ErrCorrupt = errors.New("compress: corrupt or oversized compressed data")

// Compress appends the compression of src with a to dst and reports whether
// it did: src shorter than minLen, longer than MaxDecodedLen, or that does
// not get smaller is left alone (dst is returned as it was).
func Compress(dst, src []byte, a Algorithm, minLen int) ([]byte, bool) {
	if a == None || len(src) < minLen || len(src) > MaxDecodedLen || len(src) == 0 {
		return dst, false
	}
	start := len(dst)
	switch a {
	case S2:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, false
		}
		dst = binary.BigEndian.AppendUint32(grow(dst, crcLen+n), crc32.Checksum(src, castagnoli))
		out := s2.EncodeBetter(dst[start+crcLen:start+crcLen+n], src)
		dst = dst[:start+crcLen+len(out)]
	case Zstd:
		dst = zstdEncoder().EncodeAll(src, dst)
	default:
		return dst, false
	}
	if len(dst)-start >= len(src) {
		return dst[:start], false
	}
	return dst, true
}

// crcLen is the length of the checksum in front of an S2 block.
const crcLen = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// grow returns dst with room for n more bytes beyond its length.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst[:len(dst)+n][:len(dst)]
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

// DecodedLen returns the length src decompresses to, as its header claims,
// or ErrCorrupt when the header is malformed or claims more than
// MaxDecodedLen. For zstd frames that do not state their size it returns
// -1: Decompress still bounds them.
func DecodedLen(src []byte, a Algorithm) (int, error) {
	switch a {
	case None:
		return len(src), nil
	case S2:
		if len(src) < crcLen {
			return 0, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(src))
		}
		n, err := s2.DecodedLen(src[crcLen:])
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if n > MaxDecodedLen {
			return 0, fmt.Errorf("%w: claims %d bytes, at most %d", ErrCorrupt, n, MaxDecodedLen)
		}
		return n, nil
	case Zstd:
		var h zstd.Header
		if err := h.Decode(src); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if !h.HasFCS {
			return -1, nil
		}
		if h.FrameContentSize > MaxDecodedLen {
			return 0, fmt.Errorf("%w: claims %d bytes, at most %d", ErrCorrupt, h.FrameContentSize, MaxDecodedLen)
		}
		return int(h.FrameContentSize), nil
	}
	return 0, fmt.Errorf("%w: unknown algorithm %d", ErrCorrupt, uint8(a))
}

// Decompress returns the decompression of src, in dst's array when it has
// room (dst's length is ignored), else in a new one. It never allocates
// more than MaxDecodedLen for the result, whatever src claims, and never
// panics.
func Decompress(dst, src []byte, a Algorithm) ([]byte, error) {
	if a == None {
		return src, nil
	}
	n, err := DecodedLen(src, a)
	if err != nil {
		return nil, err
	}
	switch a {
	case S2:
		if cap(dst) < n {
			dst = make([]byte, n)
		}
		out, err := s2.Decode(dst[:n], src[crcLen:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if crc32.Checksum(out, castagnoli) != binary.BigEndian.Uint32(src) {
			return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
		}
		return out, nil
	case Zstd:
		dst = dst[:0]
		if n >= 0 && cap(dst) < n {
			dst = make([]byte, 0, n)
		}
		out, err := zstdDecoder().DecodeAll(src, dst)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if n >= 0 && len(out) != n {
			return nil, fmt.Errorf("%w: %d bytes decoded, the header said %d", ErrCorrupt, len(out), n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown algorithm %d", ErrCorrupt, uint8(a))
}

// The zstd coders are safe for concurrent EncodeAll and DecodeAll calls and
// costly to build, so each process builds one of each, when first needed.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithZeroFrames(true))
		if err != nil {
			panic(err) // fixed, valid options
		}
		return enc
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxDecodedLen), zstd.WithDecoderMaxWindow(MaxDecodedLen))
		if err != nil {
			panic(err) // fixed, valid options
		}
		return dec
	})
)
