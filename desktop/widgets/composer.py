"""Where the agent types: Enter sends, Shift+Enter starts a new line, the box grows to 6 lines."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QSizePolicy, QWidget

from desktop.compat import override

MAX_LINES = 6


class Composer(QPlainTextEdit):
    """A plain-text box that emits ``submitted`` with its text on Enter (never blank text)."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setPlaceholderText(self.tr("Type a message"))
        self.setTabChangesFocus(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(6)
        self.document().contentsChanged.connect(self._on_document_contents_changed)
        self._on_document_contents_changed()

    def submit(self) -> None:
        """Emit the text (unless blank) and clear the box."""
        text = self.toPlainText()
        if not text.strip():
            return
        self.clear()
        self.submitted.emit(text)

    @override
    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            modifiers = e.modifiers()
            if modifiers & Qt.KeyboardModifier.ShiftModifier:
                # Qt would insert a line separator (U+2028); a real newline is what gets sent.
                self.insertPlainText("\n")
            elif not modifiers & (
                Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier
            ):
                self.submit()
            e.accept()
            return
        super().keyPressEvent(e)

    @override
    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), self._height_for_lines())

    def _height_for_lines(self) -> int:
        lines = max(1, min(MAX_LINES, self.document().lineCount()))
        line_height = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins()
        return int(
            lines * line_height
            + 2 * self.document().documentMargin()
            + margins.top()
            + margins.bottom()
            + 2
        )

    def _on_document_contents_changed(self) -> None:
        self.setFixedHeight(self._height_for_lines())
