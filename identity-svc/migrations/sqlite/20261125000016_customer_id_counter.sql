-- Customer ids are never reused: MAX + 1 gave the highest number again once its account was
-- closed. A one-row counter holds the last number drawn; the trigger bumps it (past any number
-- set explicitly, too) inside the inserting transaction (SQLite has one writer at a time).
CREATE TABLE customer_id_counter (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_customer_id INTEGER NOT NULL
);
INSERT INTO customer_id_counter (id, last_customer_id)
    SELECT 1, COALESCE(MAX(customer_id), 0) FROM organizations;

DROP TRIGGER organizations_customer_id;
CREATE TRIGGER organizations_customer_id AFTER INSERT ON organizations
    WHEN NEW.customer_id IS NULL
BEGIN
    UPDATE customer_id_counter
    SET last_customer_id = MAX(
        last_customer_id,
        (SELECT COALESCE(MAX(customer_id), 0) FROM organizations)
    ) + 1
    WHERE id = 1;
    UPDATE organizations
    SET customer_id = (SELECT last_customer_id FROM customer_id_counter WHERE id = 1)
    WHERE organization_uuid = NEW.organization_uuid;
END;
