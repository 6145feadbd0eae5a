package cachefront

import (
	"errors"
	"fmt"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/keyspace"
)

// Sentinel errors. Match them with errors.Is; cachefront wraps them with
// details.
var (
	// ErrNotFound reports a key that is not in the cache. A loader may also
	// return it (or wrap it) to say the source has no such item; with
	// WithNegativeTTL that answer is cached too.
	ErrNotFound = engine.ErrNotFound

	// ErrUnavailable reports that Redis could not be used: it failed, timed
	// out, or the circuit breaker is open after repeated failures. GetOrLoad
	// never returns it (it falls through to the loader); Get, Set, Delete and
	// InvalidateTags do, wrapping the underlying error.
	ErrUnavailable = backend.ErrUnavailable

	// ErrInvalidOption reports bad configuration: a constructor panics with
	// it, a call returns it.
	ErrInvalidOption = errors.New("cachefront: invalid option")

	// ErrInvalidKey reports an empty key.
	ErrInvalidKey = keyspace.ErrInvalidKey

	// ErrInvalidTag reports an empty or over-long tag.
	ErrInvalidTag = keyspace.ErrInvalidTag

	// ErrClosed reports a call on a closed Store.
	ErrClosed = engine.ErrClosed
)

// PanicError is the value a GetOrLoad caller panics with when the shared
// loader panicked: every waiter of that load panics with it, so the panic
// surfaces in each caller's goroutine (where net/http, say, can recover it)
// instead of crashing the process from the load's goroutine.
type PanicError struct {
	Value any    // the value the loader panicked with
	Stack []byte // the loader's stack at the panic
}

// Error describes the panic with the loader's stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("cachefront: loader panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
