"""The version handshake: the companion keeps each terminal's POS version and publishes a signed update
policy; the POS trusts only a policy signed by the key it pinned, and turns it into the right notice."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from posdesk import __version__
from posdesk.companion.config import CompanionConfig
from posdesk.sync import updates as pos_updates
from posdesk.sync.client import USER_AGENT
from posdesk.sync.updates import Policy, UpdateRefused, Urgency, accept, fetch, notice_for, remembered
from tests.companion.conftest import Companion, add_store

SHA = "ab" * 32


POLICY_ENV = {
    "POSDESK_POS_MINIMUM_VERSION": "0.0.9",
    "POSDESK_POS_RECOMMENDED_VERSION": "99.1.0",
    "POSDESK_POS_UPDATE_URL": "https://downloads.example.com/posdesk-99.1.0-setup.exe",
    "POSDESK_POS_UPDATE_SHA256": SHA.upper(),
}


@pytest.fixture
def policy_env(companion: Companion) -> None:
    """The companion as restarted by an operator who set the update policy's variables."""
    policy = CompanionConfig.from_env(POLICY_ENV).update_policy
    companion.app.state.config = replace(companion.config, update_policy=policy)


def terminals(companion: Companion) -> dict[str, dict[str, object]]:
    answer = companion.api.get("/api/v1/terminals")
    assert answer.status_code == 200, answer.text
    return {row["terminal_id"]: row for row in answer.json()["terminals"]}


def test_the_companion_keeps_the_version_each_terminal_runs(companion: Companion) -> None:
    mine = companion.terminal.terminal_id
    other = add_store(companion.app, name="Other Store")  # another store's terminal is not listed
    assert terminals(companion)[mine]["app_version"] is None  # httpx's own User-Agent names no version

    headers = {**companion.terminal.headers, "User-Agent": USER_AGENT}
    assert companion.client(headers=headers).get("/api/v1/store").status_code == 200
    seen = terminals(companion)
    assert seen[mine]["app_version"] == __version__ and seen[mine]["version_seen_at"]
    assert other.terminal_id not in seen

    newer = {**companion.terminal.headers, "User-Agent": "posdesk/0.9.1"}
    companion.client(headers=newer).get("/api/v1/store")
    assert terminals(companion)[mine]["app_version"] == "0.9.1"


def test_the_policy_is_signed_and_the_pos_pins_the_key(
    companion: Companion, policy_env: None, tmp_path: Path
) -> None:
    policy = fetch(companion.url, companion.terminal.credential, tmp_path)
    assert policy == Policy("0.0.9", "99.1.0", "https://downloads.example.com/posdesk-99.1.0-setup.exe", SHA)
    assert remembered(tmp_path) == policy  # kept for starts without the companion
    notice = notice_for(policy)
    assert notice is not None and notice.urgency is Urgency.AVAILABLE
    assert notice.text().startswith("An update is available: posdesk 99.1.0 from https://downloads.")

    signed = companion.api.get("/api/v1/updates").json()
    tampered = {**signed, "policy": signed["policy"].replace("0.0.9", "0.0.1")}
    with pytest.raises(UpdateRefused, match="signature"):
        accept(tampered, companion.url, tmp_path)

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    impostor = Ed25519PrivateKey.generate()  # someone between the terminal and its companion
    document = signed["policy"].replace("downloads.example.com", "evil.example.net")
    forged = {
        "policy": document,
        "signature": base64.b64encode(impostor.sign(document.encode())).decode(),
        "public_key": base64.b64encode(
            impostor.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode(),
    }
    with pytest.raises(UpdateRefused, match="another key"):
        accept(forged, companion.url, tmp_path)
    assert remembered(tmp_path) == policy


def test_a_policy_file_edited_on_the_terminal_is_not_trusted(
    companion: Companion, policy_env: None, tmp_path: Path
) -> None:
    fetch(companion.url, companion.terminal.credential, tmp_path)
    path = tmp_path / pos_updates.POLICY_FILE
    stored = json.loads(path.read_text())
    stored["last"]["policy"] = stored["last"]["policy"].replace("0.0.9", "0.0.1")
    path.write_text(json.dumps(stored))
    assert remembered(tmp_path) is None


def test_no_policy_configured_means_no_notice(companion: Companion, tmp_path: Path) -> None:
    policy = fetch(companion.url, companion.terminal.credential, tmp_path)
    assert policy == Policy(None, None, "", "") and notice_for(policy) is None


def test_a_bad_credential_is_refused(companion: Companion, tmp_path: Path) -> None:
    from posdesk.sync.client import CompanionRejected

    with pytest.raises(CompanionRejected):
        fetch(companion.url, "pdt_wrong", tmp_path)
    assert httpx.get(f"{companion.url}/api/v1/updates").status_code == 401


@pytest.mark.parametrize(
    ("running", "minimum", "recommended", "expected"),
    [
        ("1.2.0", "1.0.0", "1.2.0", None),
        ("1.2.0", None, "1.10.0", (Urgency.AVAILABLE, "1.10.0")),
        ("1.2.0", "1.3.0", "1.4.0", (Urgency.REQUIRED, "1.4.0")),
        ("1.2.0", "1.3.0", None, (Urgency.REQUIRED, "1.3.0")),
        ("1.3.0rc1", "1.3.0", None, None),
        ("2.0.0", "1.3.0", "1.9.9", None),
    ],
)
def test_which_notice(running: str, minimum: str | None, recommended: str | None, expected: object) -> None:
    notice = notice_for(Policy(minimum, recommended, "", ""), running)
    assert (None if notice is None else (notice.urgency, notice.version)) == expected
    if notice is not None and notice.urgency is Urgency.REQUIRED:
        assert f"This version of posdesk ({running}) can no longer be used" in notice.text()
