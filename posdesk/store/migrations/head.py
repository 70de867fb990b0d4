"""The newest migration of the local cache, known without importing Alembic.

Start-up compares it with the revision stored in the file and imports Alembic only when they differ
(importing Alembic costs about a fifth of a second, every start). A new migration must update it:
``tests/unit/test_store_database.py`` checks it equals the head Alembic finds in ``versions/``.
"""

HEAD_REVISION = "0003"
