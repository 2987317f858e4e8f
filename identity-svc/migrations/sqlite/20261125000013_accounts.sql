-- Accounts and sub-accounts (issue #16, docs/accounts.md): an account is an organization, a
-- sub-account a child organization. Existing organizations become top-level accounts.
--
-- `path` is the account's place in the hierarchy: the lower-case hex (simple form) uuids from
-- the top-level account down to this one, joined by '/'. "An account and everything below it"
-- is one range of paths, answered by `organizations_path_idx` (compared byte by byte).
ALTER TABLE organizations ADD COLUMN parent_uuid BLOB REFERENCES organizations (organization_uuid);
ALTER TABLE organizations ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN path TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN customer_id INTEGER;
ALTER TABLE organizations ADD COLUMN legacy_access BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN lrn_access BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN mms_access TEXT NOT NULL DEFAULT 'NONE';
ALTER TABLE organizations ADD COLUMN sms_access TEXT NOT NULL DEFAULT 'NONE';
ALTER TABLE organizations ADD COLUMN require_ip_api_access BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN require_ip_gql_access BOOLEAN NOT NULL DEFAULT 0;

UPDATE organizations SET path = lower(hex(organization_uuid));
WITH ordered AS (
    SELECT organization_uuid, row_number() OVER (ORDER BY created_at, organization_uuid) AS n
    FROM organizations
)
UPDATE organizations SET customer_id = (
    SELECT n FROM ordered WHERE ordered.organization_uuid = organizations.organization_uuid
);

CREATE UNIQUE INDEX organizations_customer_id_idx ON organizations (customer_id);
CREATE INDEX organizations_path_idx ON organizations (path);
CREATE INDEX organizations_parent_uuid_idx ON organizations (parent_uuid);

-- The customer id: the next serial number, drawn inside the inserting transaction (SQLite has
-- one writer at a time, so MAX + 1 is never drawn twice).
CREATE TRIGGER organizations_customer_id AFTER INSERT ON organizations
    WHEN NEW.customer_id IS NULL
BEGIN
    UPDATE organizations
    SET customer_id = (SELECT COALESCE(MAX(customer_id), 0) + 1 FROM organizations)
    WHERE organization_uuid = NEW.organization_uuid;
END;

-- The addresses an account's API callers may come from (enforced later), in canonical network
-- form ("203.0.113.0/24", "2001:db8::/32"), at most once each.
CREATE TABLE account_allowed_ips (
    allowed_ip_uuid BLOB PRIMARY KEY NOT NULL,
    organization_uuid BLOB NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    cidr TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX account_allowed_ips_organization_cidr_idx
    ON account_allowed_ips (organization_uuid, cidr);
