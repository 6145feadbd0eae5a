package cachefront

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestPanicError(t *testing.T) {
	p := &PanicError{Value: io.ErrUnexpectedEOF, Stack: []byte("goroutine 1 [running]:")}
	if !errors.Is(p, io.ErrUnexpectedEOF) {
		t.Error("a PanicError does not unwrap to the error the loader panicked with")
	}
	if msg := p.Error(); !strings.Contains(msg, "unexpected EOF") || !strings.Contains(msg, "goroutine 1") {
		t.Errorf("Error() = %q, want the value and the stack", msg)
	}
	if errors.Unwrap(&PanicError{Value: "boom"}) != nil {
		t.Error("a non-error panic value unwraps to something")
	}
}

// The sentinels keep their identity through the wrapping cachefront does.
func TestSentinelsMatchThroughWrapping(t *testing.T) {
	for _, err := range []error{ErrNotFound, ErrUnavailable, ErrInvalidOption, ErrInvalidKey, ErrInvalidTag, ErrClosed} {
		if wrapped := fmt.Errorf("context: %w", err); !errors.Is(wrapped, err) {
			t.Errorf("%v does not match through wrapping", err)
		}
	}
	seen := map[string]bool{}
	for _, err := range []error{ErrNotFound, ErrUnavailable, ErrInvalidOption, ErrInvalidKey, ErrInvalidTag, ErrClosed} {
		if seen[err.Error()] {
			t.Errorf("two sentinels read %q", err)
		}
		seen[err.Error()] = true
		if !strings.HasPrefix(err.Error(), "cachefront: ") {
			t.Errorf("%q does not say it comes from cachefront", err)
		}
	}
}
