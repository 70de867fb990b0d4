"""The fake Twilio API speaks Twilio's wire format: checked with plain httpx, not with our driver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fakes.serve import serve_app
from tests.fakes.twilio_api import FakeTwilio, twilio_signature


@dataclass
class Recorder:
    """A webhook endpoint that keeps what it receives."""

    received: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> PlainTextResponse:
            form = {k: str(v) for k, v in (await request.form()).multi_items()}
            with self.lock:
                self.received.append((str(request.url), form, request.headers.get("x-twilio-signature")))
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/{name}", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    with serve_app(recorder.app()) as url:
        yield recorder, url


@pytest.fixture
def twilio(receiver: tuple[Recorder, str]) -> Iterator[tuple[FakeTwilio, httpx.Client]]:
    _, hook_url = receiver
    fake = FakeTwilio(inbound_webhook_url=f"{hook_url}/inbound")
    with (
        serve_app(fake.app) as base,
        httpx.Client(base_url=base, auth=(fake.account_sid, fake.auth_token)) as client,
    ):
        yield fake, client
        fake.release_hangs()
    fake.close()


def messages_path(fake: FakeTwilio) -> str:
    return f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


def test_signature_matches_twilios_documented_example() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio_signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345") == (
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


def test_create_answers_twilios_message_resource(twilio: tuple[FakeTwilio, httpx.Client]) -> None:
    fake, client = twilio
    r = client.post(messages_path(fake), data={"To": "+15550102000", "From": fake.from_number, "Body": "Hi"})
    assert r.status_code == 201
    body = r.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["status"] == "queued"
    assert body["account_sid"] == fake.account_sid
    assert (body["to"], body["from"], body["body"], body["num_segments"]) == (
        "+15550102000",
        fake.from_number,
        "Hi",
        "1",
    )
    assert body["date_created"].endswith("GMT")  # RFC 2822
    fetched = client.get(f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{body['sid']}.json")
    assert fetched.json()["sid"] == body["sid"]


def test_messaging_service_messages_start_accepted(twilio: tuple[FakeTwilio, httpx.Client]) -> None:
    fake, client = twilio
    r = client.post(
        messages_path(fake),
        data={"To": "+15550102000", "MessagingServiceSid": fake.messaging_service_sid, "Body": "x"},
    )
    assert r.status_code == 201 and r.json()["status"] == "accepted"


def test_bad_credentials_get_twilios_401(twilio: tuple[FakeTwilio, httpx.Client]) -> None:
    fake, client = twilio
    r = client.post(messages_path(fake), data={"To": "+15550102000"}, auth=(fake.account_sid, "wrong"))
    assert r.status_code == 401
    assert r.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": "+15005550001", "Body": "x"}, 21211),
        ({"To": "555", "Body": "x"}, 21211),
        ({"To": "+15005550004", "Body": "x"}, 21610),
        ({"To": "+15005550009", "Body": "x"}, 21614),
        ({"Body": "x"}, 21604),
        ({"To": "+15550102000"}, 21602),
        ({"To": "+15550102000", "Body": "x" * 1601}, 21617),
        ({"To": "+15550102000", "Body": "x", "From": "+15550000000"}, 21606),
    ],
)
def test_errors_carry_twilios_codes(
    twilio: tuple[FakeTwilio, httpx.Client], form: dict[str, str], code: int
) -> None:
    fake, client = twilio
    form = {"From": fake.from_number, **form}
    r = client.post(messages_path(fake), data=form)
    assert r.status_code == 400
    assert r.json()["code"] == code and r.json()["status"] == 400
    assert r.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert fake.messages == {}


def test_status_callbacks_are_signed_and_in_order(
    twilio: tuple[FakeTwilio, httpx.Client], receiver: tuple[Recorder, str]
) -> None:
    fake, client = twilio
    recorder, hook_url = receiver
    callback = f"{hook_url}/status?store=s1"
    for to in ("+15550102000", "+15005559003", "+15005559006"):
        form = {"To": to, "From": fake.from_number, "Body": "Hi", "StatusCallback": callback}
        assert client.post(messages_path(fake), data=form).status_code == 201
    fake.wait_for_callbacks(8)
    by_number: dict[str, list[tuple[str, str | None]]] = {}
    for url, form, signature in recorder.received:
        assert url == callback
        assert signature == twilio_signature(callback, form, fake.auth_token)
        assert form["AccountSid"] == fake.account_sid and form["SmsSid"] == form["MessageSid"]
        by_number.setdefault(form["To"], []).append((form["MessageStatus"], form.get("ErrorCode")))
    assert by_number == {
        "+15550102000": [("queued", None), ("sent", None), ("delivered", None)],
        "+15005559003": [("queued", None), ("sent", None), ("undelivered", "30003")],
        "+15005559006": [("queued", None), ("failed", "30006")],
    }
    statuses = {m["to"]: (m["status"], m["error_code"]) for m in fake.messages.values()}
    assert statuses["+15005559003"] == ("undelivered", 30003)


def test_corrupted_signature_is_wrong_for_the_real_token(
    twilio: tuple[FakeTwilio, httpx.Client], receiver: tuple[Recorder, str]
) -> None:
    fake, client = twilio
    recorder, hook_url = receiver
    fake.corrupt_next_signatures(1)
    form = {
        "To": "+15550102000",
        "From": fake.from_number,
        "Body": "Hi",
        "StatusCallback": f"{hook_url}/status",
    }
    client.post(messages_path(fake), data=form)
    deliveries = fake.wait_for_callbacks(3)
    assert [d.signature_valid for d in deliveries] == [False, True, True]
    url, params, signature = recorder.received[0]
    assert signature != twilio_signature(url, params, fake.auth_token)


def test_inbound_stop_blocks_the_number_until_start(
    twilio: tuple[FakeTwilio, httpx.Client], receiver: tuple[Recorder, str]
) -> None:
    fake, client = twilio
    recorder, _ = receiver
    delivery = fake.send_inbound(" stop ", from_number="+15550102000")
    assert delivery.ok
    url, params, signature = recorder.received[-1]
    assert url == fake.inbound_webhook_url
    assert (params["Body"], params["From"], params["To"], params["SmsStatus"]) == (
        " stop ",
        "+15550102000",
        fake.from_number,
        "received",
    )
    assert signature == twilio_signature(url, params, fake.auth_token)
    blocked = client.post(
        messages_path(fake), data={"To": "+15550102000", "From": fake.from_number, "Body": "x"}
    )
    assert blocked.json()["code"] == 21610
    fake.send_inbound("START", from_number="+15550102000")
    again = client.post(
        messages_path(fake), data={"To": "+15550102000", "From": fake.from_number, "Body": "x"}
    )
    assert again.status_code == 201


@pytest.mark.parametrize(("mode", "status"), [("http500", 500), ("http503", 503), ("http429", 429)])
def test_fail_next_answers_with_an_error_then_recovers(
    twilio: tuple[FakeTwilio, httpx.Client], mode: str, status: int
) -> None:
    fake, client = twilio
    fake.fail_next(1, mode)
    form = {"To": "+15550102000", "From": fake.from_number, "Body": "x"}
    failed = client.post(messages_path(fake), data=form)
    assert failed.status_code == status and failed.json()["status"] == status
    assert fake.messages == {}
    assert client.post(messages_path(fake), data=form).status_code == 201


def test_timeout_after_processing_leaves_the_message_created(twilio: tuple[FakeTwilio, httpx.Client]) -> None:
    fake, client = twilio
    fake.fail_next(1, "timeout", seconds=5, process=True)
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            messages_path(fake),
            data={"To": "+15550102000", "From": fake.from_number, "Body": "x"},
            timeout=0.3,
        )
    assert len(fake.messages) == 1
