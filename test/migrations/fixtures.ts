import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small, realistic migration history: orders, then a column, then an index built concurrently. */
export const ordersMigrations: Record<string, string> = {
  '1_create-orders.sql': `-- Up Migration
CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);
-- Down Migration
DROP TABLE orders;
`,
  '2_add-note.sql': `-- Up Migration
ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT '';
-- Down Migration
ALTER TABLE orders DROP COLUMN note;
`,
  '3_create-customers.sql': `-- Up Migration
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO customers (name) VALUES ('ada'), ('grace');
-- Down Migration
DROP TABLE customers;
`,
};

export const failingThird: Record<string, string> = {
  ...ordersMigrations,
  '3_create-customers.sql': `-- Up Migration
CREATE TABLE customers (id serial PRIMARY KEY);
INSERT INTO orders (total) VALUES ('not a number');
-- Down Migration
DROP TABLE customers;
`,
};

/** Writes migration files to a new temporary directory and returns its path. */
export function migrationDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'schemaops-test-migrations-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
