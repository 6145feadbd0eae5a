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
		Tags:       []Tag{{"category:42", "0:00ff"}, {"product:B0001", ""}},
	}
}

func TestRoundTrip(t *testing.T) {
	h := sampleHeader()
	b, err := Encode(nil, h, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if v.Gen != h.Gen || v.Kind != h.Kind || v.Created != h.Created || v.FreshUntil != h.FreshUntil ||
		v.LoadMicros != h.LoadMicros || v.TypeHash != h.TypeHash {
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
	h := sampleHeader()
	full, _ := Encode(nil, h, nil)
	if !bytes.HasPrefix(full, AppendPrefix(nil, h)) || len(AppendPrefix(nil, h)) != PrefixLen {
		t.Fatal("AppendPrefix is not the head of Encode")
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Encode(nil, sampleHeader(), []byte("x"))
	cases := map[string][]byte{
		"empty":       nil,
		"short":       good[:10],
		"magic":       append([]byte{0x00}, good[1:]...),
		"version":     append([]byte{Magic, 99}, good[2:]...),
		"kind":        func() []byte { b := bytes.Clone(good); b[18] = 'z'; return b }(),
		"tag overrun": good[:HeaderLen+3],
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
	f.Add([]byte{Magic, Version})
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
			LoadMicros: v.LoadMicros, TypeHash: v.TypeHash, Tags: tagsOf(&v)}, v.Payload)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
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
