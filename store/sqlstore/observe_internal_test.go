package sqlstore

import "testing"

func TestStatementOp(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{`SELECT id, version FROM products WHERE id = ANY(?)`, "SELECT products"},
		{"\n\t\tSELECT id, name\n\t\tFROM sellers WHERE id IN (SELECT value FROM json_each(?))", "SELECT sellers"},
		{`select count(*) from cache_outbox`, "SELECT cache_outbox"},
		{`INSERT INTO view_batches (id, applied_at) VALUES (?, ?)`, "INSERT view_batches"},
		{`UPDATE products SET name = ?, version = version + 1 WHERE id = ? RETURNING version`, "UPDATE products"},
		{`WITH v(id, n) AS (VALUES (CAST(? AS BIGINT), CAST(? AS BIGINT)), (CAST(? AS BIGINT), CAST(? AS BIGINT)))
		  UPDATE products SET hits = products.hits + v.n FROM v WHERE products.id = v.id`, "UPDATE products"},
		{`DELETE FROM product_tags WHERE product_id = ?`, "DELETE product_tags"},
		{`LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE`, "LOCK categories"},
		{`SELECT CASE WHEN EXISTS (SELECT 1 FROM products) THEN 0 ELSE 1 END`, "SELECT products"},
		{`PRAGMA optimize`, "PRAGMA"},
		{``, "EMPTY"},
	} {
		if got := statementOp(c.query); got != c.want {
			t.Errorf("statementOp(%q) = %q, want %q", c.query, got, c.want)
		}
	}
}
