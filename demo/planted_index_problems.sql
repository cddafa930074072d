-- PLANTED FOR THE DEMO: index problems that are not in the seed guide's schema, added after the
-- data so that pgscope's indexFindings has something real to show. Each is a mistake met in real
-- databases; none of them is used by the query mix (demo/queries), so they stay unused too.

-- DUPLICATE: the same index created twice under two names.
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_created_at_again ON users (created_at);

-- REDUNDANT: (entity_type) is a leading prefix of (entity_type, entity_id), which serves its lookups.
CREATE INDEX audit_trails_entity_type ON audit_trails (entity_type);
CREATE INDEX audit_trails_entity ON audit_trails (entity_type, entity_id);

-- UNUSED: no statement filters or sorts workflow_templates by created_at.
CREATE INDEX workflow_templates_created_at ON workflow_templates (created_at);

-- MISSING_FK_INDEX: a foreign key whose referencing column leads no index, so that deleting a
-- user scans every partition of activity_logs (the advisor also proposes this index for the mix).
ALTER TABLE activity_logs ADD CONSTRAINT activity_logs_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
