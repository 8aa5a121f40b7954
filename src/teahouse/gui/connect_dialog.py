"""The connect dialog: where to, who, and log in or create the account.

It connects by itself (an asyncio task: the window stays live while the server checks the
password) and only closes once the client is authenticated; the server's refusals are shown
in plain words under the field they concern (:func:`teahouse.gui.wording.explain_login_error`),
``throttled`` with a countdown after which Connect works again.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from teahouse import __version__
from teahouse.client import Client, ClientError, ConnectFailed, LoginFailed
from teahouse.gui import profiles
from teahouse.gui.profiles import ProfileStore, ServerEntry
from teahouse.gui.wording import (
    Field,
    FieldError,
    explain_connect_failure,
    explain_login_error,
    throttled_text,
)
from teahouse.protocol.names import is_user_name

DEFAULT_PORT = 6680
DEFAULT_TLS_PORT = 6681
ERROR_STYLE = "color: #c0392b;"


@dataclass(frozen=True)
class Defaults:
    """What the command line asked for (``teahouse gui HOST:PORT --user NAME ...``)."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    tls: bool = False
    ca_file: str | None = None
    register: bool = False


@dataclass(frozen=True)
class Connection:
    """What a successful dialog hands over."""

    client: Client
    host: str
    port: int


class ConnectDialog(QDialog):
    """See the module doc. ``connected`` fires once the client is authenticated."""

    connected = Signal(object)

    def __init__(
        self,
        settings: QSettings,
        defaults: Defaults | None = None,
        *,
        icon: QIcon | None = None,
        parent: QWidget | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to teahouse")
        if icon is not None:
            self.setWindowIcon(icon)
        self.store = ProfileStore(settings)
        self.defaults = defaults or Defaults()
        self.connect_timeout = connect_timeout
        self.result_connection: Connection | None = None
        self.keyring_ok = False
        self._task: asyncio.Task[Connection | None] | None = None
        self._keyring_task: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[bool] | None = None
        self._done: asyncio.Future[Connection | None] | None = None
        self._throttle_until = 0.0
        self._throttle_field = Field.PASSWORD
        self._throttle_timer = QTimer(self)
        self._throttle_timer.setInterval(200)
        self._throttle_timer.timeout.connect(self._throttle_tick)
        self._build(icon)
        self._fill_from_memory()

    # -- layout ----------------------------------------------------------------------

    def _error_label(self) -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the server: never HTML
        label.setStyleSheet(ERROR_STYLE)
        label.setWordWrap(True)
        label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setMinimumWidth(320)  # a wrapped label's height is measured at its minimum
        label.hide()
        return label

    def _build(self, icon: QIcon | None) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 18)
        outer.setSpacing(10)
        # Always exactly as tall as what is shown: rows come and go with errors and modes.
        outer.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        self.setMinimumWidth(480)

        head = QHBoxLayout()
        if icon is not None:
            logo = QLabel()
            logo.setPixmap(icon.pixmap(44, 44))
            head.addWidget(logo)
        titles = QVBoxLayout()
        title = QLabel("teahouse")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Connect to a teahouse server")
        subtitle.setStyleSheet("color: palette(placeholder-text);")
        titles.addWidget(title)
        titles.addWidget(subtitle)
        head.addLayout(titles, 1)
        outer.addLayout(head)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        outer.addWidget(line)

        form = self.form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(6)

        self.server = QComboBox()
        self.server.setEditable(True)
        self.server.setMinimumWidth(220)
        line_edit = self.server.lineEdit()
        assert line_edit is not None
        line_edit.setPlaceholderText("chat.example.org")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setFixedWidth(90)
        where = QHBoxLayout()
        where.addWidget(self.server, 1)
        where.addSpacing(8)
        where.addWidget(QLabel("Port"))
        where.addWidget(self.port)
        form.addRow("Server", where)
        self.server_error = self._error_label()
        form.addRow("", self.server_error)

        self.tls = QCheckBox("Encrypt the connection (TLS)")
        form.addRow("", self.tls)
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("the system's trusted authorities")
        self.ca_browse = QPushButton("Browse…")
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(self.ca_browse)
        self.ca_label = QLabel("CA file")
        form.addRow(self.ca_label, ca_row)
        self.tls_error = self._error_label()
        form.addRow("", self.tls_error)

        self.login_mode = QRadioButton("I have an account")
        self.register_mode = QRadioButton("Create an account")
        self.login_mode.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.login_mode)
        modes.addButton(self.register_mode)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.login_mode)
        mode_row.addWidget(self.register_mode)
        mode_row.addStretch(1)
        form.addRow("", mode_row)

        self.user = QComboBox()
        self.user.setEditable(True)
        self.user.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        user_edit = self.user.lineEdit()
        assert user_edit is not None
        user_edit.setPlaceholderText("your name")
        form.addRow("User", self.user)
        self.user_error = self._error_label()
        form.addRow("", self.user_error)

        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Password", self.password)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_label = QLabel("Again")
        form.addRow(self.repeat_label, self.repeat)
        self.password_error = self._error_label()
        form.addRow("", self.password_error)

        self.invite = QLineEdit()
        self.invite.setPlaceholderText("only if the server asks for one")
        self.invite_label = QLabel("Invite code")
        form.addRow(self.invite_label, self.invite)
        self.invite_error = self._error_label()
        form.addRow("", self.invite_error)

        self.keep_password = QCheckBox("Remember the password in the system keyring")
        self.keep_password.setEnabled(False)
        self.keep_password.setToolTip("Looking for a system keyring…")
        form.addRow("", self.keep_password)
        self.keyring_note = QLabel("No system keyring here: the password is never stored.")
        self.keyring_note.setStyleSheet("color: palette(placeholder-text);")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.hide()
        form.addRow("", self.keyring_note)
        outer.addLayout(form)

        self.form_error = self._error_label()
        outer.addWidget(self.form_error)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        self.status.hide()
        outer.addWidget(self.status)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Quit")
        self.connect_button = QPushButton("Connect")
        self.connect_button.setDefault(True)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.connect_button)
        outer.addLayout(buttons)

        self.connect_button.clicked.connect(self.start_connect)
        self.cancel_button.clicked.connect(self._cancel)
        self.tls.toggled.connect(self._tls_toggled)
        self.register_mode.toggled.connect(self._mode_changed)
        self.ca_browse.clicked.connect(self._browse_ca)
        self.server.currentIndexChanged.connect(self._server_picked)
        self.user.currentTextChanged.connect(lambda _: self._user_changed())
        self.server.editTextChanged.connect(lambda _: self._clear(Field.SERVER))
        self.port.valueChanged.connect(lambda _: self._clear(Field.SERVER))
        self.user.editTextChanged.connect(lambda _: self._clear(Field.USER))
        self.password.textEdited.connect(lambda _: self._clear(Field.PASSWORD))
        self.repeat.textEdited.connect(lambda _: self._clear(Field.PASSWORD))
        self.invite.textEdited.connect(lambda _: self._clear(Field.INVITE))
        self.ca_file.textEdited.connect(lambda _: self._clear(Field.TLS))
        for label in self._labels().values():
            self._show(label, False)
        self._show(self.keyring_note, False)
        self._tls_toggled(False)
        self._mode_changed(False)

    # -- memory ----------------------------------------------------------------------

    def _fill_from_memory(self) -> None:
        entries = self.store.servers()
        for entry in entries:
            self.server.addItem(entry.label, entry)
        d = self.defaults
        if d.host is not None:
            self.server.setEditText(d.host)
            known = self.store.find(d.host, d.port or DEFAULT_PORT)
            self.port.setValue(d.port or (DEFAULT_TLS_PORT if d.tls else DEFAULT_PORT))
            self.tls.setChecked(d.tls or bool(d.ca_file) or bool(known and known.tls))
            self.ca_file.setText(d.ca_file or (known.ca_file if known else ""))
            self._set_users(known)
        elif entries:
            self.server.setCurrentIndex(0)
            self._server_picked(0)
        else:
            self.server.setEditText("127.0.0.1")
        if d.user:
            self.user.setEditText(d.user)
        if d.register:
            self.register_mode.setChecked(True)

    def _server_picked(self, index: int) -> None:
        entry = self.server.itemData(index)
        if not isinstance(entry, ServerEntry):
            return
        self.server.setEditText(entry.host)
        self.port.setValue(entry.port)
        self.tls.setChecked(entry.tls)
        self.ca_file.setText(entry.ca_file)
        self._set_users(entry)

    def _set_users(self, entry: ServerEntry | None) -> None:
        self.user.blockSignals(True)
        self.user.clear()
        for name in entry.users if entry else []:
            self.user.addItem(name)
        self.user.blockSignals(False)
        if entry and entry.users:
            self.user.setCurrentIndex(0)
        self._user_changed()

    def _user_changed(self) -> None:
        if self.keyring_ok and not self.password.text():
            self._load_password()

    def _load_password(self) -> None:
        host, port, user = self._host(), self.port.value(), self.user.currentText().strip()
        entry = self.store.find(host, port)
        if entry is None or user.lower() not in (u.lower() for u in entry.keyring_users):
            return

        async def load() -> None:
            password = await profiles.off_thread(profiles.load_password, host, port, user)
            if password and not self.password.text():
                self.password.setText(password)
                self.keep_password.setChecked(True)

        self._keyring_task = asyncio.get_running_loop().create_task(load())

    async def probe_keyring(self) -> bool:
        """Find out (in a thread) whether a system keyring exists; enables the tick box."""
        self.keyring_ok = await profiles.off_thread(profiles.keyring_available)
        self.keep_password.setEnabled(self.keyring_ok)
        self.keep_password.setToolTip(
            "The password is stored by your desktop's keyring, not in teahouse's settings."
            if self.keyring_ok
            else "No system keyring was found, so teahouse does not store the password."
        )
        self._show(self.keyring_note, not self.keyring_ok)
        if self.keyring_ok:
            self._user_changed()
        return self.keyring_ok

    # -- fields ----------------------------------------------------------------------

    def _host(self) -> str:
        return self.server.currentText().strip()

    def _tls_toggled(self, on: bool) -> None:
        self.ca_file.setEnabled(on)
        self.ca_browse.setEnabled(on)
        self.ca_label.setEnabled(on)
        if on and self.port.value() == DEFAULT_PORT:
            self.port.setValue(DEFAULT_TLS_PORT)
        elif not on and self.port.value() == DEFAULT_TLS_PORT:
            self.port.setValue(DEFAULT_PORT)
        self._clear(Field.TLS)

    def _mode_changed(self, register: bool) -> None:
        for widget in (self.repeat, self.invite):
            self._show(widget, register)
        if not register:
            self._clear(Field.INVITE)
        self.connect_button.setText("Create account" if register else "Connect")

    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "CA certificate", "", "Certificates (*.pem *.crt);;All files (*)"
        )
        if path:
            self.ca_file.setText(path)

    def _labels(self) -> dict[Field, QLabel]:
        return {
            Field.SERVER: self.server_error,
            Field.TLS: self.tls_error,
            Field.USER: self.user_error,
            Field.PASSWORD: self.password_error,
            Field.INVITE: self.invite_error if self.register_mode.isChecked() else self.form_error,
            Field.FORM: self.form_error,
        }

    def error_text(self, field: Field) -> str:
        """The error shown next to ``field`` ('' when none is)."""
        label = self._labels()[field]
        return label.text() if not label.isHidden() else ""

    def _show(self, widget: QWidget, visible: bool) -> None:
        """Show or hide ``widget``, and its whole row (spacing too) if it is in the form."""
        if self.form.indexOf(widget) >= 0:
            self.form.setRowVisible(widget, visible)
        else:
            widget.setVisible(visible)

    def show_error(self, error: FieldError) -> None:
        label = self._labels()[error.field]
        label.setText(error.text)
        self._show(label, True)
        focus = {
            Field.SERVER: self.server,
            Field.TLS: self.ca_file,
            Field.USER: self.user,
            Field.PASSWORD: self.password,
            Field.INVITE: self.invite,
        }.get(error.field)
        if focus is not None:
            focus.setFocus()
        if error.retry_after:
            self._throttle_until = time.monotonic() + error.retry_after
            self._throttle_field = error.field
            self.connect_button.setEnabled(False)
            self._throttle_timer.start()

    def _clear(self, field: Field) -> None:
        if field is self._throttle_field and self._throttle_timer.isActive():
            return  # the countdown stays until it is over
        label = self._labels()[field]
        label.clear()
        self._show(label, False)

    def _clear_all(self) -> None:
        for field in Field:
            self._clear(field)

    def _throttle_tick(self) -> None:
        left = self._throttle_until - time.monotonic()
        label = self._labels()[self._throttle_field]
        label.setText(throttled_text(left))
        self._show(label, True)
        if left <= 0:
            self._throttle_timer.stop()
            self.connect_button.setEnabled(self._task is None)

    def _validate(self) -> FieldError | None:
        if not self._host():
            return FieldError(Field.SERVER, "Which server? Type its name or address.")
        user = self.user.currentText().strip()
        if not user:
            return FieldError(Field.USER, "Type your user name.")
        if not is_user_name(user):
            return explain_login_error("invalid_name", "")
        if not self.password.text():
            return FieldError(Field.PASSWORD, "Type your password.")
        if self.register_mode.isChecked() and self.repeat.text() != self.password.text():
            return FieldError(Field.PASSWORD, "The two passwords differ.")
        return None

    # -- connecting ------------------------------------------------------------------

    def start_connect(self) -> None:
        """Connect with what the form says (the Connect button)."""
        if self._task is not None or not self.connect_button.isEnabled():
            return
        self._task = asyncio.get_running_loop().create_task(self.attempt())

    def _busy(self, busy: bool, text: str = "") -> None:
        self.connect_button.setEnabled(not busy and not self._throttle_timer.isActive())
        self.cancel_button.setText("Cancel" if busy else "Quit")
        for widget in (self.server, self.port, self.tls, self.user, self.password):
            widget.setEnabled(not busy)
        self.status.setText(text)
        self.status.setVisible(bool(text))

    async def attempt(self) -> Connection | None:
        """One connection attempt; shows what went wrong, or hands the client over."""
        self._clear_all()
        problem = self._validate()
        if problem is not None:
            self.show_error(problem)
            self._task = None
            return None
        host, port = self._host(), self.port.value()
        user = self.user.currentText().strip()
        password = self.password.text()
        register = self.register_mode.isChecked()
        tls = self.tls.isChecked()
        ca_file = self.ca_file.text().strip()
        try:
            context = ssl.create_default_context(cafile=ca_file or None) if tls else None
        except (OSError, ssl.SSLError) as exc:
            self.show_error(FieldError(Field.TLS, f"Cannot read the CA file: {exc}"))
            self._task = None
            return None
        client = Client(
            host,
            port,
            user,
            password,
            register=register,
            rooms=self.store.rooms(host, port, user),
            client_name=f"teahouse-gui/{__version__}",
            ssl=context,
            invite=(self.invite.text().strip() or None) if register else None,
            connect_timeout=self.connect_timeout,
        )
        verb = "Creating the account" if register else "Connecting"
        self._busy(True, f"{verb} at {host}:{port}…")
        try:
            await client.connect()
        except LoginFailed as exc:
            self.show_error(
                explain_login_error(exc.code, exc.message, exc.retry_after, register=register)
            )
            return None
        except ConnectFailed as exc:
            self.show_error(explain_connect_failure(str(exc), tls=tls))
            return None
        except ClientError as exc:
            self.show_error(FieldError(Field.FORM, str(exc)))
            return None
        finally:
            self._busy(False)
            self._task = None
        keep = self.keep_password.isChecked() and self.keyring_ok
        self.store.remember(host, port, client.user, tls=tls, ca_file=ca_file, keyring=keep)
        if keep:
            await profiles.off_thread(profiles.save_password, host, port, client.user, password)
        elif self.keyring_ok:
            await profiles.off_thread(profiles.forget_password, host, port, client.user)
        connection = Connection(client, host, port)
        self.result_connection = connection
        self.connected.emit(connection)
        if self._done is not None and not self._done.done():
            self._done.set_result(connection)
        self.accept()
        return connection

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self._busy(False)
            self.form_error.setText("Cancelled.")
            self.form_error.show()
            return
        self.reject()

    def reject(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        super().reject()

    def done(self, result: int) -> None:
        """Closes the dialog (accept or reject): keyring tasks still running stop here.

        They would otherwise write to this dialog's widgets once the application has
        deleted it (a quick Quit, or a login faster than the keyring's answer)."""
        for task in (self._probe, self._keyring_task):
            if task is not None and not task.done():
                task.cancel()
        super().done(result)

    async def run(self) -> Connection | None:
        """Show the dialog and wait: the connection, or None if the user gave up."""
        self._done = asyncio.get_running_loop().create_future()
        self.show()
        self.raise_()
        self.activateWindow()
        self._probe = asyncio.get_running_loop().create_task(self.probe_keyring())
        (self.password if self.user.currentText() else self.user).setFocus(
            Qt.FocusReason.OtherFocusReason
        )
        return await self._done
