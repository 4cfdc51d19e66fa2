-- Up Migration
CREATE INDEX orders_customer_id_idx ON orders (customer_id);

-- Down Migration
DROP INDEX orders_customer_id_idx;
