-- Whether the user's roles make an administrator, written by the server
-- beside the roles (the rule itself lives in the code, in one place), so
-- the guard that keeps one enabled administrator can select them without
-- restating the rule. Existing rows are filled in once, here.
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET is_admin = ((' ' || roles || ' ') LIKE '% admin %');
