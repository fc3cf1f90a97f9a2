"""The calendar-connection API against a real Radicale server: connect, test, list, sync now, disconnect; the app
password never comes back out; tenancy as for availability (another tenant gets 404); bad input changes nothing."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.admin.sites import site

from scheduling import tasks
from scheduling.caldav.admin import CalendarConnectionAdmin
from scheduling.caldav.crypto import secret_decrypt, secret_encrypt
from scheduling.models import BusyBlock, CalendarConnection
from tests.scheduling.test_calendar_sync import PASSWORD, USER, calendar_url, quick_retries  # noqa: F401
from tests.servers.radicale import RadicaleServer, run_radicale

URL = "/api/calendar-connections/"


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with run_radicale(tmp_path, users={USER: PASSWORD, "lena": PASSWORD}) as radicale:
        radicale.make_calendar(username=USER, password=PASSWORD, cal_id="work")
        radicale.make_calendar(username=USER, password=PASSWORD, cal_id="family")
        yield radicale


def body(server: RadicaleServer, **changes: Any) -> dict[str, Any]:
    return {"server_url": server.url, "username": USER, "app_password": PASSWORD, **changes}


def connect(api: Any, user: Any, server: RadicaleServer, **changes: Any) -> Any:
    return api(user).post(URL, body(server, **changes), format="json")


def test_connecting_stores_the_password_encrypted_and_never_returns_it(world: Any, api: Any, server: Any) -> None:
    response = connect(api, world.mediator_user_a, server, mediator=world.mediator_a.pk, calendar_name="Work")

    assert response.status_code == 201, response.content
    data = response.json()
    assert PASSWORD not in response.content.decode() and "password" not in "".join(data)
    assert (data["mediator"], data["staff_user"], data["calendar_name"]) == (world.mediator_a.pk, None, "Work")
    assert data["calendar_url"] == f"{server.url}{USER}/work/"
    assert (data["sync_mode"], data["stale"], data["last_error"]) == ("sync", False, "")  # synced inline: no broker
    connection = CalendarConnection.objects.get()
    assert PASSWORD not in connection.password_encrypted
    assert secret_decrypt(connection.password_encrypted) == PASSWORD
    for path in (URL, f"{URL}{connection.pk}/"):
        assert PASSWORD not in api(world.coordinator_a).get(path).content.decode()


def test_a_staff_user_connects_their_own_calendar(world: Any, api: Any, server: Any) -> None:
    response = connect(
        api, world.la_officer_a, server, staff_user=world.la_officer_a.pk, calendar_url=f"{server.url}{USER}/family/"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["staff_user"], response.json()["calendar_name"]) == (world.la_officer_a.pk, "Family")


def test_another_tenant_sees_nothing_and_cannot_connect_or_touch_it(world: Any, api: Any, server: Any) -> None:
    connection_id = connect(
        api, world.coordinator_a, server, mediator=world.mediator_a.pk, calendar_name="Work"
    ).json()["id"]
    charlie = api(world.coordinator_b)

    assert charlie.get(URL).json()["results"] == []
    assert charlie.get(f"{URL}{connection_id}/").status_code == 404
    assert charlie.post(f"{URL}{connection_id}/sync/").status_code == 404
    assert charlie.delete(f"{URL}{connection_id}/").status_code == 404
    assert connect(api, world.coordinator_b, server, mediator=world.mediator_a.pk).status_code == 404
    assert [c["id"] for c in api(world.coordinator_a).get(URL).json()["results"]] == [connection_id]
    assert CalendarConnection.objects.count() == 1


def test_connecting_twice_is_a_conflict(world: Any, api: Any, server: Any) -> None:
    assert (
        connect(api, world.coordinator_a, server, mediator=world.mediator_a.pk, calendar_name="Work").status_code == 201
    )
    response = connect(api, world.coordinator_a, server, mediator=world.mediator_a.pk, calendar_name="Family")
    assert response.status_code == 409
    assert CalendarConnection.objects.get().calendar_name == "Work"


def test_a_calendar_not_on_the_server_is_refused_with_the_list(world: Any, api: Any, server: Any) -> None:
    response = connect(api, world.coordinator_a, server, mediator=world.mediator_a.pk, calendar_name="Holidays")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["calendar_name"] == ["Choose one of the server's calendars: Family, Work"]
    assert {c["name"] for c in response.json()["extra"]["calendars"]} == {"Family", "Work"}
    assert not CalendarConnection.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "server_url"),
        ({"server_url": "not a url", "username": "u", "app_password": "p", "mediator": 1}, "server_url"),
        ({"server_url": "https://dav.example.org/", "username": "u", "app_password": "p"}, "resource"),
        (
            {
                "server_url": "https://dav.example.org/",
                "username": "u",
                "app_password": "p",
                "mediator": 1,
                "staff_user": 2,
            },
            "resource",
        ),  # fmt: skip
        ({"server_url": "https://dav.example.org/", "username": "u", "app_password": "p", "mediator": "x"}, "mediator"),
        (
            {
                "server_url": "https://dav.example.org/",
                "username": "u",
                "app_password": "p",
                "mediator": 1,
                "push_enabled": "maybe",
            },
            "push_enabled",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_a_400_with_field_messages_and_writes_nothing(
    world: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    response = api(world.coordinator_a).post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert not CalendarConnection.objects.exists()


def test_disconnecting_removes_the_connection_and_its_busy_time(world: Any, api: Any, server: Any) -> None:
    connection_id = connect(
        api, world.mediator_user_a, server, mediator=world.mediator_a.pk, calendar_name="Work"
    ).json()["id"]
    connection = CalendarConnection.objects.get()
    BusyBlock.objects.create(resource_id=connection.resource_id, start="2026-12-01T09:00Z", end="2026-12-01T10:00Z")

    assert api(world.mediator_user_a).delete(f"{URL}{connection_id}/").status_code == 204
    assert not CalendarConnection.objects.exists() and not BusyBlock.objects.exists()


# Testing a connection


def test_a_good_connection_lists_the_calendars(world: Any, api: Any, server: Any) -> None:
    response = api(world.mediator_user_a).post(f"{URL}test/", body(server), format="json")

    assert response.status_code == 200
    assert sorted(c["name"] for c in response.json()["calendars"]) == ["Family", "Work"]


def test_a_wrong_password_is_a_clear_400(world: Any, api: Any, server: Any) -> None:
    response = api(world.mediator_user_a).post(f"{URL}test/", body(server, app_password="wrong"), format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "The server did not accept this username and app password."
    assert response.json()["extra"]["kind"] == "auth" and "app_password" in response.json()["extra"]["fields"]


def test_a_wrong_url_is_a_clear_400(world: Any, api: Any, tmp_path: Path) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{web.server_address[1]}/"
        response = api(world.mediator_user_a).post(
            f"{URL}test/", {"server_url": url, "username": USER, "app_password": PASSWORD}, format="json"
        )
    finally:
        web.shutdown()
        web.server_close()

    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["server_url"]
    assert response.json()["message"].startswith("There is no CalDAV calendar server at this address")


def test_a_tls_failure_is_a_clear_400(world: Any, api: Any, server: Any) -> None:
    response = api(world.mediator_user_a).post(
        f"{URL}test/", body(server, server_url=server.url.replace("http:", "https:")), format="json"
    )

    assert response.status_code == 400
    assert response.json()["extra"]["kind"] == "tls"
    assert response.json()["message"].startswith("A secure connection to the server failed")


def test_a_server_that_never_answers_is_a_timeout_400(world: Any, api: Any, settings: Any) -> None:
    settings.CALDAV_TIMEOUT_SECONDS = 0.3
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        response = api(world.mediator_user_a).post(
            f"{URL}test/", {"server_url": url, "username": USER, "app_password": PASSWORD}, format="json"
        )

    assert response.status_code == 400
    assert response.json()["extra"]["kind"] == "timeout"
    assert "did not answer in time (timed out after 0.3 s)" in response.json()["message"]


def test_private_addresses_are_refused_unless_allowed(world: Any, api: Any, server: Any, settings: Any) -> None:
    settings.CALDAV_ALLOW_PRIVATE_HOSTS = False

    for path, extra in ((f"{URL}test/", {}), (URL, {"mediator": world.mediator_a.pk})):
        response = api(world.coordinator_a).post(path, body(server, **extra), format="json")
        assert response.status_code == 400
        assert response.json()["extra"]["fields"]["server_url"] == [
            "That address is on a private network; use the calendar's public address."
        ]
    assert not CalendarConnection.objects.exists()


# Sync now


def test_sync_now_runs_inline_without_a_broker_and_returns_the_state(world: Any, api: Any, server: Any) -> None:
    connection_id = connect(
        api, world.mediator_user_a, server, mediator=world.mediator_a.pk, calendar_name="Work"
    ).json()["id"]
    CalendarConnection.objects.update(last_success_at=None, last_sync_at=None)

    response = api(world.mediator_user_a).post(f"{URL}{connection_id}/sync/")

    assert response.status_code == 200
    assert response.json()["last_success_at"] is not None and response.json()["stale"] is False


def test_sync_now_is_queued_after_commit_with_a_broker(
    world: Any, api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from scheduling.occupancy import resource_for_mediator

    connection = CalendarConnection.objects.create(
        resource=resource_for_mediator(world.mediator_a), server_url="https://dav.example.org/", username=USER,
        password_encrypted=secret_encrypt(PASSWORD), calendar_url="https://dav.example.org/mia/work/",
    )  # fmt: skip
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    with patch.object(tasks.connection_sync_task, "apply_async", autospec=True) as queue:
        with django_capture_on_commit_callbacks(execute=True):
            response = api(world.mediator_user_a).post(f"{URL}{connection.pk}/sync/")

    assert response.status_code == 200 and response.json()["stale"] is True
    assert queue.call_args.args == ((connection.pk,),)


def test_the_admin_never_shows_the_password() -> None:
    model_admin = CalendarConnectionAdmin(CalendarConnection, site)
    form = model_admin.get_form(request=None)  # type: ignore[arg-type]
    assert "password_encrypted" not in form.base_fields
    assert "password_encrypted" not in model_admin.get_fields(request=None)  # type: ignore[arg-type]


def test_an_old_key_still_decrypts_after_rotation(settings: Any) -> None:
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CALDAV_ENCRYPTION_KEY = old
    token = secret_encrypt("s3cret")
    settings.CALDAV_ENCRYPTION_KEY = f"{new},{old}"
    assert secret_decrypt(token) == "s3cret"
    assert secret_encrypt("s3cret") != token
