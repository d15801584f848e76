"""Pairing as the user lives it, end to end: the desktop's own webhook receiver on loopback, a
number added through the workspace, the pairing dialog following a fake provider's QR, its
refresh, the scan and "connected"; then the number shows as connected in the rail."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from desktop.solo_backend import SoloBackend
from desktop.views.pairing_dialog import PairingDialog, PairingPresenter
from sync.domain.models import ConnectionState
from sync.providers.accounts import Secret
from sync.providers.gateway import GatewayAccount
from sync.store.local import queries
from sync.store.local.cache_key import CacheKey
from tests.fakes.gateway_server import FakeGateway
from tests.fakes.loopback import serve

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun

MASTER = "master-token-for-the-dialog-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def backend(arun: ARun, tmp_path: Path) -> Iterator[SoloBackend]:
    backend = SoloBackend.create(
        tmp_path / "caixa-cache.db",
        CacheKey.generate(),
        demo=False,
        key_file=tmp_path / "key.json",
    )
    arun(backend.prepare())
    arun(backend.start())
    yield backend
    arun(backend.aclose())


def test_a_gateway_number_is_linked_through_qr_refresh_and_scan(
    qtbot: QtBot, arun: ARun, backend: SoloBackend
) -> None:
    port = _free_port()
    assert arun(backend.set_receiver(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"))
    workspace = backend.workspace
    assert workspace is not None and workspace.receiving
    fake = FakeGateway(MASTER)
    with serve(fake.app) as gateway_url:
        account = arun(
            workspace.add_number(
                GatewayAccount(
                    name="Oficina",
                    instance="oficina",
                    base_url=gateway_url,
                    master_token=Secret(MASTER),
                    instance_token=Secret(""),
                )
            )
        )
        handle = workspace.pairing(account.account_id)
        presenter = PairingPresenter(handle, workspace.subscribe, poll_seconds=60)  # type: ignore[arg-type]
        dialog = PairingDialog(presenter, account.name)
        qtbot.addWidget(dialog)
        dialog.show()
        arun(presenter.start())
        first = dialog.qr_view.text
        assert first  # the first QR came from the gateway's /qrcode
        instance = fake.instances["oficina"]
        assert instance.webhook_url == f"http://127.0.0.1:{port}/hooks/gateway/oficina"

        arun(fake.show_qr("oficina"))  # a new QR ~20 s later, POSTed to our receiver
        assert dialog.qr_view.text == instance.qr != first

        with qtbot.waitSignal(presenter.linked, timeout=10_000):
            arun(fake.scan("oficina", phone="5511977776666", name="Oficina"))
        assert dialog.result() == PairingDialog.DialogCode.Accepted

    [stored] = [a for a in arun(backend.db.run(queries.list_accounts)) if a.name == "Oficina"]
    assert stored.state is ConnectionState.CONNECTED
    assert stored.phone == "5511977776666"


def test_an_evolution_number_is_linked_through_qr_refresh_and_scan(
    qtbot: QtBot, arun: ARun, backend: SoloBackend
) -> None:
    from sync.providers.evolution import EvolutionAccount
    from tests.fakes.evolution_server import FakeEvolution

    port = _free_port()
    assert arun(backend.set_receiver(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"))
    workspace = backend.workspace
    assert workspace is not None
    fake = FakeEvolution(api_key="evo-global-key-for-the-dialog")
    with fake.running() as evolution_url:
        account = arun(
            workspace.add_number(
                EvolutionAccount(
                    name="Loja Centro",
                    instance="loja-centro",
                    base_url=evolution_url,
                    api_key=Secret("evo-global-key-for-the-dialog"),
                    instance_token=Secret(""),
                    webhook_secret=Secret(""),  # Caixa makes one and sets it as a header
                )
            )
        )
        handle = workspace.pairing(account.account_id)
        presenter = PairingPresenter(handle, workspace.subscribe, poll_seconds=60)  # type: ignore[arg-type]
        dialog = PairingDialog(presenter, account.name)
        qtbot.addWidget(dialog)
        dialog.show()
        arun(presenter.start())
        arun(fake.flush("loja-centro"))  # what Evolution posts after the create/connect calls
        first = dialog.qr_view.text
        assert first
        refreshed = arun(fake.emit_qr("loja-centro"))
        assert dialog.qr_view.text == refreshed["qrcode"]["code"] != first
        # It came by webhook, with the per-account secret header Caixa had Evolution set.
        assert [entry["status"] for entry in fake.webhook_log] == [200]

        with qtbot.waitSignal(presenter.linked, timeout=10_000):
            arun(fake.scan("loja-centro", phone="5511955554444"))
        assert dialog.result() == PairingDialog.DialogCode.Accepted

    [stored] = [a for a in arun(backend.db.run(queries.list_accounts)) if a.name == "Loja Centro"]
    assert stored.state is ConnectionState.CONNECTED
    assert stored.phone == "5511955554444"


def test_a_logged_out_number_is_linked_again_from_the_rail(
    qtbot: QtBot, arun: ARun, backend: SoloBackend
) -> None:
    from PySide6.QtWidgets import QApplication

    from desktop import bridge
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.main_window import MainWindow

    port = _free_port()
    assert arun(backend.set_receiver(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"))
    workspace = backend.workspace
    assert workspace is not None
    fake = FakeGateway(MASTER)
    with serve(fake.app) as gateway_url:
        account = arun(
            workspace.add_number(
                GatewayAccount(
                    name="Entregas",
                    instance="entregas",
                    base_url=gateway_url,
                    master_token=Secret(MASTER),
                    instance_token=Secret(""),
                )
            )
        )
        arun(workspace.pairing(account.account_id).request_pairing())
        arun(fake.scan("entregas"))
        arun(fake.drop("entregas", "LOGOUT", keep_session=False))  # unlinked from the phone
        [stored] = [a for a in arun(backend.db.run(queries.list_accounts)) if a.name == "Entregas"]
        assert stored.state is ConnectionState.NEEDS_REPAIR

        presenter = InboxPresenter(backend)
        window = MainWindow(presenter)
        qtbot.addWidget(window)
        arun(presenter.load())
        task = bridge.spawn(window.rail_pane.relink_number(account.account_id))

        def dialog() -> PairingDialog:
            found = [
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, PairingDialog) and w.isVisible()
            ]
            assert found and found[0].qr_view.text
            return found[0]

        qtbot.waitUntil(lambda: bool(dialog()), timeout=10_000)
        arun(fake.scan("entregas"))
        assert arun(task) is True
        window.close()
        arun(bridge.drain())
