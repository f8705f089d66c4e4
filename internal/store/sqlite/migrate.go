package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order: element i is the SQL
// of version i+1 (file migrations/NNN_name.sql with NNN = i+1).
func migrations() ([]string, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name, so by NNN
		num, _, ok := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); !ok || err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("sqlite: migration %s: want number %03d", e.Name(), len(out)+1)
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// migrate brings the database to the newest schema, one transaction per
// migration, and refuses a database written by a newer binary.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var have int
	err = db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&have)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if have > len(ms) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this program's %d", have, len(ms))
	}
	for v := have + 1; v <= len(ms); v++ {
		if err := inTx(ctx, db, nil, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, ms[v-1]); err != nil {
				return fmt.Errorf("sqlite: migration %d: %w", v, err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
