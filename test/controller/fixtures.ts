/** Migrations an orders service might ship: a table, a column, a second table. */
export const files: Record<string, string> = {
  '1_create-orders.sql': `-- Up Migration
CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);
INSERT INTO orders (total) VALUES (10), (20), (30);
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
-- Down Migration
DROP TABLE customers;
`,
};

export const failingFourth: Record<string, string> = {
  ...files,
  '4_broken.sql': `-- Up Migration
CREATE TABLE audit (id int);
INSERT INTO orders (total) VALUES ('not a number');
-- Down Migration
DROP TABLE audit;
`,
};

/** The usual fixture: these files, a Deployment of 3 replicas and a backup PVC. */
export const deploymentWithBackup = {
  files,
  workload: { kind: 'Deployment' as const, replicas: 3 },
  pvc: true,
};
