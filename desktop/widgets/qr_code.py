"""A QR code drawn from its text with ``qrcode`` (the matrix only: no Pillow, no image files).

Some servers hand over only a picture of the QR (a ``data:image/png;base64,...`` URL, as
Evolution's ``base64`` field and some gateways do); that is shown as it came.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.compat import override


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of ``text``'s QR code, quiet zone included (True = dark)."""
    import qrcode  # only when a QR is shown
    import qrcode.constants

    code = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


class QrCodeWidget(QWidget):
    """Paints the QR of ``text`` as large as it fits, square modules, black on white.

    Phones scan a crisp code best: modules are whole device pixels, never smoothed.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._matrix: list[list[bool]] = []
        self._image: QImage | None = None
        self.setMinimumSize(QSize(240, 240))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def text(self) -> str:
        """The text the code carries ("" shows nothing)."""
        return self._text

    def set_text(self, text: str) -> None:
        """Show the code of ``text`` (WhatsApp's QR payload)."""
        if text == self._text:
            return
        self._text = text
        self._image = _data_url_image(text)
        self._matrix = qr_matrix(text) if text and self._image is None else []
        self.setAccessibleDescription(self.tr("QR code to scan with WhatsApp") if text else "")
        self.update()

    def matrix(self) -> list[list[bool]]:
        """The modules on screen (for tests)."""
        return self._matrix

    @override
    def sizeHint(self) -> QSize:
        return QSize(280, 280)

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#FFFFFF"))
        if self._image is not None:
            side = min(self.width(), self.height())
            image = self._image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawImage((self.width() - image.width()) // 2, 0, image)
            return
        if not self._matrix:
            return
        count = len(self._matrix)
        side = min(self.width(), self.height())
        module = max(1, side // count)
        size = module * count
        left = (self.width() - size) // 2
        top = (self.height() - size) // 2
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#000000"))
        for y, row in enumerate(self._matrix):
            for x, dark in enumerate(row):
                if dark:
                    painter.drawRect(QRectF(left + x * module, top + y * module, module, module))


def _data_url_image(text: str) -> QImage | None:
    """The picture in a ``data:image/...;base64,`` URL, or None when ``text`` is not one."""
    if not text.startswith("data:image/") or ";base64," not in text:
        return None
    import base64
    import binascii

    try:
        data = base64.b64decode(text.split(";base64,", 1)[1], validate=False)
    except (binascii.Error, ValueError):
        return None
    image = QImage()
    return image if image.loadFromData(data) else None
