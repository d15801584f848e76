""" "Add a number": which kind, then only what that kind needs; checked before it is saved.

The dialog is a view over ``AddNumberPresenter``. The presenter validates what was typed with
the same rules as ``caixa accounts add --from-json`` (``sync.providers.accounts``), asks the
provider whether the credentials work (Meta: the number's display name), and only then saves
the number (secrets to the keyring). QR-linked numbers go on to the pairing dialog.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge
from sync.providers.accounts import AccountConfigError, ProviderAccount, account_from_json
from sync.providers.base import AccountInfo, AuthError, ProviderError

Verify = Callable[[ProviderAccount], Awaitable[AccountInfo]]
Save = Callable[[ProviderAccount], Awaitable[ProviderAccount]]

# (field, secret?) per kind, in the order the form shows them.
FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "meta": (
        ("name", False),
        ("phone_number_id", False),
        ("waba_id", False),
        ("access_token", True),
        ("app_secret", True),
        ("verify_token", True),
    ),
    "evolution": (
        ("name", False),
        ("base_url", False),
        ("api_key", True),
        ("instance", False),
    ),
    "gateway": (
        ("name", False),
        ("base_url", False),
        ("master_token", True),
        ("instance_token", True),
        ("instance", False),
    ),
}


class AddNumberPresenter(QObject):
    """Validate, check with the provider, save. Tests call ``submit`` directly."""

    error = Signal(str)  # shown under the form; nothing was saved
    checked = Signal(str)  # what the provider says the number is (display name or phone)
    added = Signal(object)  # ProviderAccount, saved, with its id

    def __init__(self, verify: Verify, save: Save, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._verify = verify
        self._save = save
        self.busy = False

    async def submit(self, provider: str, values: dict[str, str]) -> ProviderAccount | None:
        """Add the number described by ``values``; None (and ``error``) when it cannot be."""
        if self.busy:
            return None
        data: dict[str, Any] = {"provider": provider}
        data.update({k: v for k, v in values.items() if v.strip()})
        if provider == "evolution":
            data.setdefault("instance", _instance_from_name(values.get("name", "")))
        try:
            account = account_from_json(data)
        except AccountConfigError as exc:
            self.error.emit(self.tr("Please check the form: %1").replace("%1", str(exc)))
            return None
        self.busy = True
        try:
            if provider == "meta":  # QR-linked numbers are checked by pairing them
                info = await self._verify(account)
                self.checked.emit(info.display_name or info.phone)
            saved = await self._save(account)
        except AuthError:
            self.error.emit(
                self.tr("The provider refused these credentials. Check the token and try again.")
            )
            return None
        except ProviderError as exc:
            reason = str(exc)
            self.error.emit(self.tr("The provider could not be reached: %1").replace("%1", reason))
            return None
        except Exception as exc:  # the store's errors (duplicate name, no keyring) are for the user
            self.error.emit(self.tr("The number could not be saved: %1").replace("%1", str(exc)))
            return None
        finally:
            self.busy = False
        self.added.emit(saved)
        return saved


def _instance_from_name(name: str) -> str:
    """An Evolution instance name made from the name: ``Loja Centro`` → ``caixa-loja-centro``."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = "-".join("".join(ch if ch.isalnum() else " " for ch in plain).split())
    return f"caixa-{slug}"[:60] if slug else "caixa"


class AddNumberDialog(QDialog):
    """Page 1: the kind of number. Page 2: its fields. Errors stay on the page, nothing lost."""

    def __init__(self, presenter: AddNumberPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        presenter.setParent(self)
        self.setWindowTitle(self.tr("Add a WhatsApp number"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        self.pages = QStackedWidget(self)
        layout.addWidget(self.pages, 1)

        choose = QWidget(self)
        choose_layout = QVBoxLayout(choose)
        choose_layout.addWidget(QLabel(self.tr("How is this number connected?")))
        self.kinds = QButtonGroup(self)
        for kind, title, note in (
            (
                "meta",
                self.tr("&Official (Meta Cloud API)"),
                self.tr("A number registered on Meta's WhatsApp Business Platform."),
            ),
            (
                "evolution",
                self.tr("&QR-linked (Evolution API)"),
                self.tr("Your WhatsApp app linked by scanning a QR code, through Evolution API."),
            ),
            (
                "gateway",
                self.tr("&VPS gateway"),
                self.tr("Your WhatsApp app linked through your own Caixa gateway on a server."),
            ),
        ):
            button = QRadioButton(title, choose)
            button.setProperty("kind", kind)
            self.kinds.addButton(button)
            choose_layout.addWidget(button)
            hint = QLabel(note, choose)
            hint.setWordWrap(True)
            hint.setContentsMargins(24, 0, 0, 8)
            choose_layout.addWidget(hint)
        self.kinds.buttons()[0].setChecked(True)
        choose_layout.addStretch(1)
        self.pages.addWidget(choose)

        self.edits: dict[str, dict[str, QLineEdit]] = {}
        self._form_pages: dict[str, QWidget] = {}
        for kind, fields in FIELDS.items():
            page = QWidget(self)
            form = QFormLayout(page)
            self.edits[kind] = {}
            for field, secret in fields:
                edit = QLineEdit(page)
                if secret:
                    edit.setEchoMode(QLineEdit.EchoMode.Password)
                label = self._label(field)
                edit.setAccessibleName(label)
                form.addRow(label, edit)
                self.edits[kind][field] = edit
            self._form_pages[kind] = page
            self.pages.addWidget(page)

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.back_button = QPushButton(self.tr("&Back"), self)
        self.next_button = QPushButton(self.tr("&Next"), self)
        self.next_button.setDefault(True)
        self.buttons.addButton(self.back_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.next_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        self.back_button.clicked.connect(self.go_back)
        self.next_button.clicked.connect(self._on_next_button_clicked)
        layout.addWidget(self.buttons)
        self.back_button.hide()

        presenter.error.connect(self._on_presenter_error)
        presenter.checked.connect(self._on_presenter_checked)
        presenter.added.connect(self._on_presenter_added)
        self.added: ProviderAccount | None = None

    def _label(self, field: str) -> str:
        labels = {
            "name": self.tr("Name shown in Caixa"),
            "phone_number_id": self.tr("Phone number ID"),
            "waba_id": self.tr("WhatsApp Business Account ID"),
            "access_token": self.tr("Access token"),
            "app_secret": self.tr("App secret"),
            "verify_token": self.tr("Webhook verify token"),
            "base_url": self.tr("Server address"),
            "api_key": self.tr("API key"),
            "instance": self.tr("Instance name"),
            "master_token": self.tr("Master token"),
            "instance_token": self.tr("Instance token"),
        }
        return labels[field]

    @property
    def kind(self) -> str:
        """The kind chosen on the first page."""
        checked = self.kinds.checkedButton()
        return str(checked.property("kind")) if checked is not None else "meta"

    def choose(self, kind: str) -> None:
        """Pick ``kind`` and show its form (what Next does)."""
        for button in self.kinds.buttons():
            button.setChecked(button.property("kind") == kind)
        self.pages.setCurrentWidget(self._form_pages[kind])
        self.back_button.show()
        self.next_button.setText(self.tr("&Add number"))
        self.message.clear()
        self.edits[kind]["name"].setFocus()

    def go_back(self) -> None:
        """Back to the choice of kind (what was typed stays)."""
        self.pages.setCurrentIndex(0)
        self.back_button.hide()
        self.next_button.setText(self.tr("&Next"))
        self.message.clear()

    def values(self) -> dict[str, str]:
        """What the form of the chosen kind holds."""
        return {field: edit.text() for field, edit in self.edits[self.kind].items()}

    async def submit(self) -> ProviderAccount | None:
        """Add the number as the form describes it."""
        self.next_button.setEnabled(False)
        self.message.setText(self.tr("Checking…"))
        try:
            return await self.presenter.submit(self.kind, self.values())
        finally:
            self.next_button.setEnabled(True)

    def _on_next_button_clicked(self) -> None:
        if self.pages.currentIndex() == 0:
            self.choose(self.kind)
        else:
            bridge.spawn(self.submit())

    def _on_presenter_error(self, text: str) -> None:
        self.message.setText(text)

    def _on_presenter_checked(self, name: str) -> None:
        self.message.setText(self.tr("Connected to %1.").replace("%1", name))

    def _on_presenter_added(self, account: ProviderAccount) -> None:
        self.added = account
        self.accept()
