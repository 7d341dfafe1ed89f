"""The console provider, the embedded default: each SMS becomes one JSON line (provider message id,
phone, template key, params, the rendered Chinese text, time) in ``HANDOFF_SMS_CONSOLE_FILE``, or on
standard output when that is unset. Nothing leaves the machine.

With a file it can also be asked what became of a send that was cut off (a process killed between
its claim and recording the answer): the file is its whole record, so a line with our reference
is a delivered SMS and no line is none sent."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TextIO

from adapters.sms.settings import ConsoleSmsSettings
from adapters.sms.templates import check_params
from handoff.ports import Clock, ProviderError, SmsDeliveryReport, SmsReceipt, SmsStatus

NAME = "console"


class ConsoleSms:
    name = NAME

    def __init__(
        self,
        settings: ConsoleSmsSettings,
        clock: Clock,
        stdout: TextIO | None = None,
        new_id: Callable[[], str] = lambda: "console-" + uuid.uuid4().hex,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.stdout = stdout
        self.new_id = new_id

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt:
        text = f"【{self.settings.sign_name}】" + check_params(template_key, params, NAME).text.format(**params)
        message_id = self.new_id()
        line = json.dumps(
            {
                "provider_message_id": message_id,
                "phone": phone,
                "template": template_key,
                "params": dict(params),
                "reference": reference,
                "text": text,
                "time": self.clock.now().isoformat(),
            },
            ensure_ascii=False,
        )
        try:
            if self.settings.file:
                with Path(self.settings.file).open("a", encoding="utf-8") as out:
                    out.write(line + "\n")
            else:
                stream = self.stdout or sys.stdout
                stream.write(line + "\n")
                stream.flush()
        except OSError as exc:
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "io", f"无法写入短信文件：{exc.strerror}") from exc
        # The console "delivers" at once: there will be no later report.
        return SmsReceipt(NAME, message_id, SmsStatus.DELIVERED, "written", "已写入控制台")

    async def query(self, phone: str, reference: str, sent_after: datetime) -> SmsDeliveryReport | None:
        """The SMS with our ``reference`` to ``phone`` in the file, as delivered; None when the file
        has no such line. Only with a file (what went to standard output cannot be read back)."""
        if not self.settings.file:
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "stdout", "短信写到了标准输出，无法查询")
        try:
            text = Path(self.settings.file).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "io", f"无法读取短信文件：{exc.strerror}") from exc
        for line in text.splitlines():
            try:
                sent = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash while writing
            if isinstance(sent, dict) and sent.get("reference") == reference and sent.get("phone") == phone:
                return SmsDeliveryReport(
                    provider=NAME,
                    message_id=str(sent.get("provider_message_id", "")),
                    phone=phone,
                    status=SmsStatus.DELIVERED,
                    raw_code="written",
                    reason="已写入短信文件",
                    reported_at=datetime.fromisoformat(str(sent["time"])) if sent.get("time") else self.clock.now(),
                )
        return None
