"""Configuration as one domain: the drafts of each entity (drafts.py), their validation (validate/, a
module a kind) and the config file's YAML shape (schema.py). Pure: no database, no web framework.
`config apply` and the catalog (store/), the admin pages and the management API all check what they are
given here."""
