"""The companion suite's fixtures (``companion``, ``api``, ``client``, ``make_companion``, ``other_terminal``,
``companion_any_db``) for the reliability tests too."""

from tests.companion.conftest import (  # noqa: F401 - fixtures
    api,
    client,
    companion,
    companion_any_db,
    companion_app,
    companion_db_file,
    make_companion,
    other_terminal,
    store_and_terminal,
)
