package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
)

var text = []byte(strings.Repeat(`{"asin":"B0BTXNYW2Q","title":"Wireless noise canceling headphones","price":328.0},`, 40))

func TestRoundTrip(t *testing.T) {
	for _, a := range []Algorithm{S2, Zstd} {
		t.Run(a.String(), func(t *testing.T) {
			prefix := []byte("head")
			out, ok := Compress(prefix, text, a, 64)
			if !ok {
				t.Fatal("text was not compressed")
			}
			if !bytes.HasPrefix(out, []byte("head")) || len(out)-4 >= len(text)/4 {
				t.Fatalf("compressed to %d bytes of %d, or lost the prefix", len(out)-4, len(text))
			}
			n, err := DecodedLen(out[4:], a)
			if err != nil || n != len(text) {
				t.Fatalf("DecodedLen = %d, %v; want %d", n, err, len(text))
			}
			got, err := Decompress(nil, out[4:], a)
			if err != nil || !bytes.Equal(got, text) {
				t.Fatalf("Decompress = %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestCompressLeavesAlone(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		src  []byte
		a    Algorithm
		min  int
	}{
		{"below the minimum", text[:100], S2, 101},
		{"no algorithm", text, None, 0},
		{"empty", nil, S2, 0},
		{"incompressible", random, Zstd, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := Compress([]byte("x"), tc.src, tc.a, tc.min)
			if ok || string(out) != "x" {
				t.Fatalf("Compress = %q…, %v; want the input back, false", out[:min(len(out), 8)], ok)
			}
		})
	}
}

// A payload that claims a huge size is refused before anything is
// allocated for it.
func TestHugeClaimIsRefused(t *testing.T) {
	claim := binary.AppendUvarint([]byte{0, 0, 0, 0}, 4<<30) // checksum, then 4 GiB
	claim = append(claim, 0x00, 'a')
	if _, err := Decompress(nil, claim, S2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("s2 with a 4 GiB claim: %v, want ErrCorrupt", err)
	}
	z, _ := Compress(nil, text, Zstd, 0)
	// Rewrite the frame content size: the frame header descriptor at z[4]
	// with an 8-byte size field.
	forged := append([]byte{}, z[:4]...)
	forged = append(forged, 0xE0) // FCS 8 bytes, single segment
	forged = binary.LittleEndian.AppendUint64(forged, 4<<30)
	forged = append(forged, z[5:]...)
	if _, err := Decompress(nil, forged, Zstd); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zstd with a 4 GiB claim: %v, want ErrCorrupt", err)
	}
}

func TestCorruptInputIsAnError(t *testing.T) {
	for _, a := range []Algorithm{S2, Zstd} {
		good, _ := Compress(nil, text, a, 0)
		cases := map[string][]byte{
			"truncated": good[:len(good)/2],
			"empty":     {},
		}
		flipped := append([]byte{}, good...)
		flipped[len(flipped)/2] ^= 0xFF
		cases["bit flip"] = flipped
		for name, in := range cases {
			if _, err := Decompress(nil, in, a); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s %s: %v, want ErrCorrupt", a, name, err)
			}
		}
	}
	if _, err := Decompress(nil, text, Algorithm(9)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown algorithm: %v", err)
	}
}

// FuzzDecompress feeds arbitrary bytes to both decoders: they return an
// error or at most MaxDecodedLen bytes, never panic, and round-trip what
// Compress wrote.
func FuzzDecompress(f *testing.F) {
	for _, a := range []Algorithm{S2, Zstd} {
		c, _ := Compress(nil, text, a, 0)
		f.Add(c, uint8(a))
	}
	f.Add(append([]byte{0, 0, 0, 0}, s2.Encode(nil, []byte("hello"))...), uint8(S2))
	f.Add(binary.AppendUvarint([]byte{0, 0, 0, 0}, 1<<40), uint8(S2))
	f.Fuzz(func(t *testing.T, in []byte, alg uint8) {
		a := Algorithm(alg % 3)
		out, err := Decompress(make([]byte, 0, 64), in, a)
		if err == nil && len(out) > MaxDecodedLen {
			t.Fatalf("decoded %d bytes", len(out))
		}
		if c, ok := Compress(nil, in, a, 0); ok {
			back, err := Decompress(nil, c, a)
			if err != nil || !bytes.Equal(back, in) {
				t.Fatalf("round trip of %d bytes: %v", len(in), err)
			}
		}
	})
}
