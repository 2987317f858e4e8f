-- Signing keys sealed at rest (issue #18 item 4, CR-6): `sealed_seed` holds the private seed
-- under the key ring of IDENTITY_KEYS (service_kit::envelope, bound to the kid). `private_seed`
-- stays only for keys written before this migration: identity-svc seals them at start and
-- empties the column (zero bytes), so no clear copy remains in the table.
ALTER TABLE signing_keys ADD COLUMN sealed_seed TEXT;
