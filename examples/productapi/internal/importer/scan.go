package importer

import (
	"context"
	"database/sql"
	"fmt"
)

// eachValue runs query, which selects one column, and calls add with the
// value of every row. Errors are reported as failures of what ("reading
// products").
func eachValue[T any](ctx context.Context, conn *sql.Conn, query, what string, add func(T)) error {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("importer: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("importer: %s: %w", what, err)
		}
		add(v)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("importer: %s: %w", what, err)
	}
	return nil
}
