package cachefront

import (
	"bytes"
	"hash/fnv"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Values are encoded with msgpack: compact, fast, and tolerant of fields
// added or removed between versions of a struct.

func encodeValue[T any](v T) ([]byte, error) { return msgpack.Marshal(v) }

func decodeValue[T any](b []byte) (T, error) {
	var v T
	err := msgpack.Unmarshal(b, &v)
	return v, err
}

// typeNameOf names T by package path and name, so that two caches that share
// a name but store different types never read each other's entries.
func typeNameOf[T any]() string {
	t := reflect.TypeFor[T]()
	if t.PkgPath() != "" && t.Name() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

func hashTypeName(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32()
}

// encodeValueInto encodes v into buf, which must be empty.
func encodeValueInto[T any](buf *bytes.Buffer, v T) error {
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	err := enc.Encode(v)
	msgpack.PutEncoder(enc)
	return err
}
