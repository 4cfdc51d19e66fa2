/**
 * A generated migration set in the shapes real sets have: 20-digit numbers (yyyyMMddHHmmss + 6 digits, equal as
 * JavaScript numbers), enums extended and the new value used by the next migration, plpgsql with `$$` bodies and
 * `E''` strings, triggers, views dropped and re-created, CONCURRENTLY indexes with and without the
 * no-transaction line, empty ups, and columns added then dropped within the set. Deterministic.
 */
const START = 20240101000000000000n;

type Shape = (g: number) => [name: string, up: string, down: string];

const shapes: readonly Shape[] = [
  (g) => [
    `create-t${g}`,
    `CREATE TYPE state_${g} AS ENUM ('draft', 'open');
CREATE TABLE t${g} (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  state state_${g} NOT NULL DEFAULT 'draft',
  created_at timestamptz NOT NULL DEFAULT now()
);`,
    `DROP TABLE t${g};\nDROP TYPE state_${g};`,
  ],
  (g) => [`add-state-closed-${g}`, `ALTER TYPE state_${g} ADD VALUE 'closed';`, ''],
  (g) => [
    `seed-t${g}`,
    `INSERT INTO t${g} (name, state) VALUES ('first', 'open'), (E'it\\'s closed', 'closed');
UPDATE t${g} SET name = upper(name) WHERE state = 'closed';`,
    `DELETE FROM t${g} WHERE name IN ('first', E'IT\\'S CLOSED');`,
  ],
  (g) => [
    `touch-fn-${g}`,
    `CREATE FUNCTION touch_${g}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- a semicolon; and a quote ' in a comment
  IF NEW.name = '' THEN
    NEW.name := E'unnamed\\t(' || TG_TABLE_NAME || ')';
  END IF;
  RETURN NEW;
END
$$;`,
    `DROP FUNCTION touch_${g}();`,
  ],
  (g) => [
    `touch-trigger-${g}`,
    `CREATE TRIGGER t${g}_touch BEFORE INSERT OR UPDATE ON t${g}\n  FOR EACH ROW EXECUTE FUNCTION touch_${g}();`,
    `DROP TRIGGER t${g}_touch ON t${g};`,
  ],
  (g) => [
    `open-view-${g}`,
    `CREATE VIEW open_${g} AS SELECT id, name FROM t${g} WHERE state = 'open';`,
    `DROP VIEW open_${g};`,
  ],
  (g) => [
    `name-index-${g}`,
    `${g % 2 === 0 ? '-- schemaops: no-transaction\n' : ''}CREATE INDEX CONCURRENTLY t${g}_name ON t${g} (name);`,
    `DROP INDEX CONCURRENTLY t${g}_name;`,
  ],
  (g) => [`placeholder-${g}`, '', ''],
  (g) => [
    `add-legacy-${g}`,
    `ALTER TABLE t${g} ADD COLUMN legacy integer;\nALTER TABLE t${g} ADD COLUMN note text NOT NULL DEFAULT E'line\\nbreak';`,
    `ALTER TABLE t${g} DROP COLUMN note;\nALTER TABLE t${g} DROP COLUMN legacy;`,
  ],
  (g) => [
    `open-view-with-note-${g}`,
    `DROP VIEW open_${g};\nCREATE VIEW open_${g} AS SELECT id, name, note FROM t${g} WHERE state = 'open';`,
    `DROP VIEW open_${g};\nCREATE VIEW open_${g} AS SELECT id, name FROM t${g} WHERE state = 'open';`,
  ],
  (g) => [
    `drop-legacy-${g}`,
    `ALTER TABLE t${g} DROP COLUMN legacy;\nCOMMENT ON TABLE t${g} IS 'group ${g}: it''s real';`,
    `COMMENT ON TABLE t${g} IS NULL;\nALTER TABLE t${g} ADD COLUMN legacy integer;`,
  ],
  (g) => [
    `audit-${g}`,
    `CREATE TABLE audit_${g} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  t_id bigint REFERENCES t${g} (id) ON DELETE CASCADE,
  at timestamptz DEFAULT now()
);`,
    `DROP TABLE audit_${g};`,
  ],
];

/**
 * What node-pg-migrate's `up --single-transaction` can run too, for comparing with it: no CONCURRENTLY and no use
 * of an enum value in the transaction that added it (both fail inside one transaction).
 */
function forOneTransaction(up: string): string {
  return up
    .replace('-- schemaops: no-transaction\n', '')
    .replace('CONCURRENTLY ', '')
    .replace(/'closed'\)/g, "'open')")
    .replace("WHERE state = 'closed'", "WHERE state = 'open'");
}

/** At least `count` migrations (whole groups of every shape), file name → content. */
export function realWorldCorpus(
  count = 300,
  options: { oneTransaction?: boolean } = {},
): Record<string, string> {
  const files: Record<string, string> = {};
  let n = 0;
  for (let g = 0; n < count; g++) {
    for (const shape of shapes) {
      const [name, written, down] = shape(g);
      const up = options.oneTransaction ? forOneTransaction(written) : written;
      const number = START + BigInt(n++) * 17n;
      files[`${number}_${name}.sql`] = `-- Up Migration\n${up}\n\n-- Down Migration\n${down}\n`;
    }
  }
  return files;
}
