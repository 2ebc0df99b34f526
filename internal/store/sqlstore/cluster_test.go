package sqlstore

import (
	"errors"
	"fmt"
	"testing"
)

type sqlState string

func (e sqlState) Error() string    { return "pg error " + string(e) }
func (e sqlState) SQLState() string { return string(e) }

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    dialect
		err  error
		want bool
	}{
		{postgresDialect, sqlState("40001"), true},
		{postgresDialect, fmt.Errorf("commit: %w", sqlState("40P01")), true},
		{postgresDialect, sqlState("23505"), false},
		{postgresDialect, errors.New("plain"), false},
		{postgresDialect, nil, false},
		{sqliteDialect, sqlState("40001"), false},
	} {
		if got := tt.d.retryable(tt.err); got != tt.want {
			t.Errorf("dialect %d retryable(%v) = %v, want %v", tt.d, tt.err, got, tt.want)
		}
	}
}
