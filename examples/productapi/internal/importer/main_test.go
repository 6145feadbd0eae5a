package importer_test

import (
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m, dbtest.EnvURL) }
