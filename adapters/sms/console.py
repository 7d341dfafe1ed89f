"""The console provider, the embedded default: each SMS becomes one JSON line (provider message id,
phone, template key, params, the rendered Chinese text, time) in ``HANDOFF_SMS_CONSOLE_FILE``, or on
standard output when that is unset. Nothing leaves the machine."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from adapters.sms.settings import ConsoleSmsSettings
from adapters.sms.templates import check_params
from handoff.ports import Clock, ProviderError, SmsReceipt, SmsStatus

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
