package entry

import (
	"bytes"
	"errors"
	"testing"
)

func sampleHeader() *Header {
	return &Header{
		Gen:        NewGen(),
		Kind:       KindValue,
		Created:    1700000000123,
		FreshUntil: 1700000060123,
		LoadMicros: 4242,
		TypeHash:   0xDEADBEEF,
		Codec:      MsgpackCodec,
		Tags:       []Tag{{"category:42", "0:00ff"}, {"product:B0001", ""}},
	}
}

// compressedHeader is sampleHeader written by another codec, compressed:
// a version 2 entry.
func compressedHeader() *Header {
	h := sampleHeader()
	h.Codec, h.Compression = NameHash("json"), 1
	return h
}

func TestRoundTrip(t *testing.T) {
	t.Run("version 1", func(t *testing.T) { testRoundTrip(t, sampleHeader(), 1) })
	t.Run("version 2", func(t *testing.T) { testRoundTrip(t, compressedHeader(), 2) })
}

func testRoundTrip(t *testing.T, h *Header, version byte) {
	b, err := Encode(nil, h, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if b[1] != version {
		t.Fatalf("format version %d, want %d", b[1], version)
	}
	if v.Gen != h.Gen || v.Kind != h.Kind || v.Created != h.Created || v.FreshUntil != h.FreshUntil ||
		v.LoadMicros != h.LoadMicros || v.TypeHash != h.TypeHash || v.Codec != h.Codec || v.Compression != h.Compression {
		t.Fatalf("header mismatch: got %+v want %+v", v.Header, *h)
	}
	if string(v.Payload) != "payload" {
		t.Fatalf("payload = %q", v.Payload)
	}
	var got []Tag
	for n, ver := range v.TagSeq() {
		got = append(got, Tag{string(n), string(ver)})
	}
	if len(got) != 2 || got[0] != h.Tags[0] || got[1] != h.Tags[1] {
		t.Fatalf("tags = %v", got)
	}
	if string(b[GenOffset:GenOffset+GenLen]) != h.Gen {
		t.Fatal("generation is not at its fixed offset")
	}
	if vs, err := DecodeString(string(b)); err != nil || vs.Gen != h.Gen || string(vs.Payload) != "payload" {
		t.Fatalf("DecodeString: gen %q, payload %q, %v", vs.Gen, vs.Payload, err)
	}
	if n := EncodedLen(h, len("payload")); n != len(b) {
		t.Fatalf("EncodedLen = %d, Encode wrote %d bytes", n, len(b))
	}
}

func TestPrefixMatchesEncode(t *testing.T) {
	for _, h := range []*Header{sampleHeader(), compressedHeader()} {
		full, _ := Encode(nil, h, nil)
		if p := AppendPrefix(nil, h); !bytes.HasPrefix(full, p) || len(p) != h.prefixLen() {
			t.Fatalf("AppendPrefix is not the head of Encode (version %d)", full[1])
		}
	}
}

// A msgpack entry without compression is byte for byte the version 1
// layout that earlier releases write and read.
func TestVersion1Layout(t *testing.T) {
	h := &Header{Gen: "0123456789abcdef", Kind: KindValue, Created: 1, FreshUntil: 2, LoadMicros: 3,
		TypeHash: 4, Codec: MsgpackCodec, Tags: []Tag{{"t", "1:x"}}}
	got, err := Encode(nil, h, []byte{0xc0})
	if err != nil {
		t.Fatal(err)
	}
	want := "\xcf\x01" + "0123456789abcdef" + "v" +
		"\x00\x00\x00\x00\x00\x00\x00\x01" + "\x00\x00\x00\x00\x00\x00\x00\x02" +
		"\x00\x00\x00\x03" + "\x00\x00\x00\x04" + "\x00\x01" + "\x00\x01t\x031:x" + "\xc0"
	if string(got) != want {
		t.Fatalf("Encode = %q\nwant     %q", got, want)
	}
	v, err := Decode(got)
	if err != nil || v.Codec != MsgpackCodec || v.Compression != 0 {
		t.Fatalf("a version 1 entry decodes as codec %#x, compression %d, %v", v.Codec, v.Compression, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Encode(nil, sampleHeader(), []byte("x"))
	cases := map[string][]byte{
		"empty":       nil,
		"short":       good[:10],
		"magic":       append([]byte{0x00}, good[1:]...),
		"version":     append([]byte{Magic, 99}, good[2:]...),
		"v2 short":    append([]byte{Magic, version2}, good[2:prefixLen1+2]...),
		"kind":        func() []byte { b := bytes.Clone(good); b[18] = 'z'; return b }(),
		"tag overrun": good[:prefixLen1+2+3],
		"json":        []byte(`{"name":"not an entry at all, but long enough"}`),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestEncodeRejectsLongVersion(t *testing.T) {
	h := sampleHeader()
	h.Tags = []Tag{{"t", string(make([]byte, 300))}}
	if _, err := Encode(nil, h, nil); err == nil {
		t.Fatal("want an error for a version over 255 bytes")
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(nil, sampleHeader(), []byte("payload"))
	f.Add(good)
	v2, _ := Encode(nil, compressedHeader(), []byte("payload"))
	f.Add(v2)
	f.Add([]byte{Magic, version1})
	f.Add(bytes.Repeat([]byte{0xFF}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		n := 0
		for name, ver := range v.TagSeq() {
			_, _ = name, ver
			n++
		}
		if n != v.TagCount() {
			t.Fatalf("iterated %d tags, header says %d", n, v.TagCount())
		}
		again, err := Encode(nil, &Header{Gen: v.Gen, Kind: v.Kind, Created: v.Created, FreshUntil: v.FreshUntil,
			LoadMicros: v.LoadMicros, TypeHash: v.TypeHash, Codec: v.Codec, Compression: v.Compression,
			Tags: tagsOf(&v)}, v.Payload)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		// A version 2 entry that version 1 can express is written as version 1.
		if b[1] == version2 && v.Codec == MsgpackCodec && v.Compression == 0 {
			return
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decode/encode is not the identity")
		}
	})
}

func tagsOf(v *View) []Tag {
	var tags []Tag
	for n, ver := range v.TagSeq() {
		tags = append(tags, Tag{string(n), string(ver)})
	}
	return tags
}
