"""The integration tests' helpers live in itkit.py, imported by name
(`from itkit import …`): a test module must never import `conftest`, which
names whichever folder's conftest pytest loaded last (Tests/durability has one
too)."""
import itkit  # noqa: F401  (records every HTTP response for Tests/zz_secrets)
