-- How many connections each organization (scope 'shared') and each user ('personal:<uuid>')
-- holds, kept in the same transaction as every insert and delete, so that a limit is checked by
-- one conditional upsert: race-free, and at a cost that does not grow with the count.
CREATE TABLE connection_counts (
    organization_uuid UUID NOT NULL,
    scope TEXT NOT NULL,
    n BIGINT NOT NULL CHECK (n >= 0),
    PRIMARY KEY (organization_uuid, scope)
);
INSERT INTO connection_counts (organization_uuid, scope, n)
SELECT organization_uuid,
       CASE kind WHEN 'shared' THEN 'shared' ELSE 'personal:' || owner_user_uuid::text END,
       COUNT(*)
FROM connections
GROUP BY 1, 2;
