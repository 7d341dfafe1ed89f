"""Chinese line breaking (避头尾): no printed line starts with closing punctuation or ends with
opening punctuation, whatever the text and the width, and nothing is lost on the way."""

from __future__ import annotations

import dataclasses
import io

import pypdf
from hypothesis import given, settings
from hypothesis import strategies as st
from reportlab.pdfbase.pdfmetrics import stringWidth

from labels import samples
from labels.drawing import CLOSING, OPENING, esc, para, styles, wrap_lines
from labels.fonts import register
from labels.stage_notice import render_stage_notice

HAN = "办件受理材料申请人补正期限审批部门窗口特别程序告知书延长工作日汕尾市陆丰"
PUNCTUATION = "、，。；：！？）」』》（「『《"
TEXT = st.text(alphabet=st.sampled_from(HAN + PUNCTUATION + "0123456789ab"), min_size=1, max_size=160)


def printed_lines(text: str, width: float, style_name: str = "base") -> list[str]:
    """The lines a Paragraph of ``text`` really draws in a frame ``width`` points wide."""
    paragraph = para(esc(text), styles()[style_name])
    paragraph.wrap(width, 10_000)
    return ["".join(word.text for word in line.words) for line in paragraph.blPara.lines]


def assert_kinsoku(lines: list[str]) -> None:
    for n, line in enumerate(lines):
        visible = line.strip()
        if n > 0 and visible:
            assert visible[0] not in CLOSING, lines
        if n < len(lines) - 1 and visible:
            assert visible[-1] not in OPENING, lines


@settings(max_examples=300, deadline=None)
@given(text=TEXT, width=st.floats(min_value=12, max_value=320), style=st.sampled_from(["base", "body", "small"]))
def test_no_printed_line_starts_with_closing_or_ends_with_opening_punctuation(text, width, style):
    lines = printed_lines(text, width, style)
    assert "".join(lines) == text
    assert_kinsoku(lines)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(HAN + PUNCTUATION + " 12"), min_size=1, max_size=120))
def test_the_plain_wrapper_follows_the_same_rule_and_keeps_every_character(text):
    lines = wrap_lines(text, 60, register(), 10.5)
    assert "".join(lines) == text
    assert_kinsoku(lines)


def test_a_comma_that_would_start_a_line_pulls_the_character_before_it_down():
    line_width = 10.5 * 10  # exactly ten Chinese characters of the base style
    lines = printed_lines("一二三四五六七八九十，十一", line_width)
    assert lines == ["一二三四五六七八九", "十，十一"]


def test_the_extension_notice_has_no_line_starting_with_a_comma():
    reason = "申请人补充提交的施工单位资质证明材料需经第三方检测机构核实，核实工作量较大，经本机关负责人批准"
    for n in range(12):  # shift the text so that a comma falls at every position of a line
        data = dataclasses.replace(samples.stage_notice(), is_extension=True, reason="甲" * n + reason)
        pdf = render_stage_notice(data)
        text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
        for line in text.splitlines():
            assert not line.strip() or line.strip()[0] not in CLOSING, line


def test_a_time_is_not_cut_at_its_colon_when_the_space_before_it_allows_a_break():
    style = styles()["base"]
    width = stringWidth("2026-03-03 09:4", style.fontName, style.fontSize)  # the minutes do not fit
    lines = printed_lines("2026-03-03 09:40", width)
    assert [line.strip() for line in lines] == ["2026-03-03", "09:40"]
