""" "Add a number": which kind, then only what that kind needs; checked before it is saved.

The kinds and their fields are what the providers declare (``ProviderSpec``, read through
``sync.providers.registry``): this module names no provider, so a new one gets its page without
a change here (its labels show in English until the tables below translate them). The dialog is
a view over ``AddNumberPresenter``. The presenter validates what was typed with the same rules
as ``caixa accounts add --from-json`` (``sync.providers.accounts``), asks the provider whether
the credentials work (Meta: the number's display name), and only then saves the number (secrets
to the keyring). QR-linked numbers go on to the pairing dialog.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, Signal
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
from sync.providers import registry
from sync.providers.accounts import AccountConfigError, ProviderAccount, account_from_json
from sync.providers.base import AccountInfo, AuthError, ProviderError

if TYPE_CHECKING:
    from sync.providers.base import ProviderSpec

Verify = Callable[[ProviderAccount], Awaitable[AccountInfo]]
Save = Callable[[ProviderAccount], Awaitable[ProviderAccount]]


def kind_texts(spec: ProviderSpec) -> tuple[str, str]:
    """The title (with its mnemonic) and the note of a kind of number, in the user's language.

    Keyed by kind; a provider this table does not know yet shows its declared English.
    """
    known = {
        "meta": (
            QCoreApplication.translate("AddNumberDialog", "&Official (Meta Cloud API)"),
            QCoreApplication.translate(
                "AddNumberDialog", "A number registered on Meta's WhatsApp Business Platform."
            ),
        ),
        "evolution": (
            QCoreApplication.translate("AddNumberDialog", "&QR-linked (Evolution API)"),
            QCoreApplication.translate(
                "AddNumberDialog",
                "Your WhatsApp app linked by scanning a QR code, through Evolution API.",
            ),
        ),
        "gateway": (
            QCoreApplication.translate("AddNumberDialog", "&VPS gateway"),
            QCoreApplication.translate(
                "AddNumberDialog",
                "Your WhatsApp app linked through your own Caixa gateway on a server.",
            ),
        ),
    }
    return known.get(spec.kind, (spec.label, spec.description))


def field_label(spec: ProviderSpec, name: str) -> str:
    """The label of account field ``name`` in the user's language (never the field's name).

    Keyed by field name, as providers share names (``base_url``, ``instance``); a field this
    table does not know yet shows its declared English label.
    """
    known = {
        "name": QCoreApplication.translate("AddNumberDialog", "Name shown in Caixa"),
        "phone_number_id": QCoreApplication.translate("AddNumberDialog", "Phone number ID"),
        "waba_id": QCoreApplication.translate("AddNumberDialog", "WhatsApp Business Account ID"),
        "access_token": QCoreApplication.translate("AddNumberDialog", "Access token"),
        "app_secret": QCoreApplication.translate("AddNumberDialog", "App secret"),
        "verify_token": QCoreApplication.translate("AddNumberDialog", "Webhook verify token"),
        "base_url": QCoreApplication.translate("AddNumberDialog", "Server address"),
        "api_version": QCoreApplication.translate("AddNumberDialog", "Graph API version"),
        "api_key": QCoreApplication.translate("AddNumberDialog", "API key"),
        "instance": QCoreApplication.translate("AddNumberDialog", "Instance name"),
        "master_token": QCoreApplication.translate("AddNumberDialog", "Master token"),
        "instance_token": QCoreApplication.translate("AddNumberDialog", "Instance token"),
        "webhook_secret": QCoreApplication.translate("AddNumberDialog", "Webhook secret"),
    }
    if name in known:
        return known[name]
    try:
        return spec.field(name).label
    except KeyError:
        return name


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
        spec = registry.provider(provider)
        data: dict[str, Any] = {"provider": provider}
        data.update({k: v for k, v in values.items() if v.strip()})
        for field in spec.account_fields:
            if field.from_name:
                data.setdefault(field.name, _slug_from_name(values.get("name", "")))
        try:
            account = account_from_json(data)
        except AccountConfigError as exc:
            reason = self.refusal(spec, exc)
            self.error.emit(self.tr("Please check the form: %1").replace("%1", reason))
            return None
        self.busy = True
        try:
            # A number linked by QR code is checked by linking it (the pairing dialog, next);
            # the others are asked who they are before anything is saved.
            if not spec.capabilities.needs_qr_link:
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

    def refusal(self, spec: ProviderSpec, error: AccountConfigError) -> str:
        """Why the form was refused, in the user's language, with the fields' labels (never
        their internal names: the message of ``error`` is English, for the command line)."""
        labels = [field_label(spec, name) for name in error.fields] or [spec.label]
        texts = {
            "required": self.tr("%1 is required."),
            "not_text": self.tr("%1 must be text."),
            "name": self.tr("%1 may be at most 100 characters long."),
            "url": self.tr("%1 must be an address starting with https:// (or http://)."),
            "digits": self.tr("%1 must be the number the provider shows, in digits only."),
            "instance": self.tr(
                "%1 may hold only letters, digits, dots, hyphens and underscores (up to 100)."
            ),
            "api_version": self.tr("%1 must look like v23.0."),
            "one_of": self.tr("Fill in %1 or %2."),
        }
        text = texts.get(error.reason, self.tr("%1 is not valid."))
        for number, label in enumerate(labels[:2], start=1):
            text = text.replace(f"%{number}", label)
        return text


def _slug_from_name(name: str) -> str:
    """An instance name made from the number's name: ``Loja Centro`` → ``caixa-loja-centro``."""
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
        self.edits: dict[str, dict[str, QLineEdit]] = {}
        self._form_pages: dict[str, QWidget] = {}
        self._specs = {kind: registry.provider(kind) for kind in registry.account_kinds()}
        for spec in self._specs.values():
            title, note = kind_texts(spec)
            button = QRadioButton(title, choose)
            button.setProperty("kind", spec.kind)
            self.kinds.addButton(button)
            choose_layout.addWidget(button)
            hint = QLabel(note, choose)
            hint.setWordWrap(True)
            hint.setContentsMargins(24, 0, 0, 8)
            choose_layout.addWidget(hint)
            self._add_form_page(spec)
        self.kinds.buttons()[0].setChecked(True)
        choose_layout.addStretch(1)
        self.pages.insertWidget(0, choose)
        self.pages.setCurrentWidget(choose)

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

    def _add_form_page(self, spec: ProviderSpec) -> None:
        """The page of one kind: the fields its provider declares for the form, in order."""
        page = QWidget(self)
        form = QFormLayout(page)
        self.edits[spec.kind] = {}
        for field in spec.account_fields:
            if not field.in_form:
                continue
            edit = QLineEdit(page)
            if field.secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            label = field_label(spec, field.name)
            edit.setAccessibleName(label)
            others = [n for g in spec.one_of if field.name in g for n in g if n != field.name]
            if field.from_name:
                edit.setPlaceholderText(self.tr("Made from the name when left empty"))
            elif others:
                other = field_label(spec, others[0])
                edit.setPlaceholderText(self.tr("This or %1 (one is enough)").replace("%1", other))
            elif not field.required:
                edit.setPlaceholderText(self.tr("Optional"))
            form.addRow(label, edit)
            self.edits[spec.kind][field.name] = edit
        self._form_pages[spec.kind] = page
        self.pages.addWidget(page)

    @property
    def kind(self) -> str:
        """The kind chosen on the first page."""
        checked = self.kinds.checkedButton()
        return str(checked.property("kind")) if checked is not None else next(iter(self._specs))

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
