"""Reading paper logbooks (CSV and XLSX): columns, Chinese values, dates, per-row reasons."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from services.intake.logbook import (
    EntryRefused,
    entry_of,
    external_id_of,
    parse_channel,
    parse_clock,
    parse_kind,
    parse_moment,
    read_logbook,
    split_contact,
    submission_of,
)
from services.intake.registry.domain import CellInvalid
from services.intake.registry.imports import ImportRefused
from shared.events import OrgPath
from shared.events.vocabulary import Channel, FeedbackKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
LAKESIDE = OrgPath(group="hx", subsidiary="east", project="lakeside")
ROW = {"date": "2024-03-05", "time": "09:30", "channel": "来电", "kind": "投诉", "text": "3号楼2单元1201卫生间漏水",
       "received_by": "cs-0001", "org": "hx/east/lakeside"}


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def reasons(info: pytest.ExceptionInfo[EntryRefused]) -> dict[str, str]:
    return {p.field: p.reason for p in info.value.problems}


# --- the file ---


def test_a_chinese_logbook_with_a_title_row_maps_its_columns() -> None:
    content = (
        "顾客沟通登记表,,,,,,,\n"
        "编号,日期,时间,来源,类别,事由,记录人,项目,楼栋单元,备注\n"
        "\n"
        "2024-001,2024/3/5,9:30,来电,投诉,漏水,cs-1,LS-01,3-2-1201,已转工程部\n"
    ).encode()
    sheet = read_logbook(content, filename="logbook.csv")
    assert sheet.ignored_columns == ["备注"]
    [(number, cells)] = sheet.rows
    assert number == 4  # the row number Excel shows: the title and the blank row count
    assert cells == {"external_id": "2024-001", "date": "2024/3/5", "time": "9:30", "channel": "来电", "kind": "投诉",
                     "text": "漏水", "received_by": "cs-1", "project_id": "LS-01", "unit": "3-2-1201"}


def test_english_headers_in_a_gbk_tab_separated_file() -> None:
    content = "received_at\tchannel\tkind\ttext\treceived_by\tproject_id\n2024-03-05 09:30\tphone\tinquiry\t物业费\tcs-1\tLS-01\n"
    [(_, cells)] = read_logbook(content.encode("gb18030")).rows
    entry = entry_of(cells)
    assert (entry.channel, entry.kind, entry.received_at) == (Channel.PHONE, FeedbackKind.INQUIRY,
                                                              datetime(2024, 3, 5, 9, 30))


def test_missing_columns_refuse_the_whole_file_naming_each() -> None:
    with pytest.raises(ImportRefused) as info:
        read_logbook("日期,内容,备注\n2024-03-05,漏水,\n".encode())
    missing = " | ".join(p.reason for p in info.value.problems)
    assert all(p.field == "columns" for p in info.value.problems)
    for column in ("channel", "kind", "received_by", "org"):
        assert column in missing
    assert "text" not in missing and "received_at" not in missing


def test_two_columns_meaning_the_same_thing_are_refused() -> None:
    with pytest.raises(ImportRefused, match="two columns mean text"):
        read_logbook("日期,来源,类别,内容,事由,接待人,项目\n".encode())


@pytest.mark.parametrize(("content", "reason"), [(b"  ", "empty"), (b"PK\x03\x04broken", "XLSX")])
def test_unreadable_files_are_refused(content: bytes, reason: str) -> None:
    with pytest.raises(ImportRefused, match=reason):
        read_logbook(content)


def test_an_xlsx_logbook_keeps_typed_cells() -> None:
    content = xlsx([
        ["工作信息记录本"],
        ["日期", "时间", "渠道", "类别", "内容", "接待人", "集团", "子公司", "项目部", "电话"],
        [datetime(2024, 3, 5), time(15, 20), "回访", "表扬", "维修及时", "cs-2", "hx", "east", "lakeside", 13800138000],
    ])
    [(number, cells)] = read_logbook(content, filename="book.xlsx").rows
    entry = entry_of(cells)
    assert number == 3
    assert entry.received_at == datetime(2024, 3, 5, 15, 20) and entry.org == LAKESIDE
    assert (entry.channel, entry.kind) == (Channel.RETURN_VISIT, FeedbackKind.PRAISE)
    assert entry.contact == {"phone": "13800138000"}


# --- values ---


@pytest.mark.parametrize(("written", "channel"), [
    ("来电", Channel.PHONE), ("来函", Channel.LETTER), ("信函", Channel.LETTER), ("来访", Channel.WALK_IN),
    ("回访", Channel.RETURN_VISIT), ("座谈会", Channel.SOLICITATION), ("家访", Channel.SOLICITATION),
    ("传真", Channel.FAX), ("邮件", Channel.EMAIL), ("网站", Channel.WEB), ("微信", Channel.WECHAT),
    ("现场例会", Channel.SITE_MEETING), ("Walk-in", Channel.WALK_IN), (" PHONE ", Channel.PHONE),
    ("e-mail", Channel.EMAIL), ("return visit", Channel.RETURN_VISIT),
])
def test_channels_in_chinese_and_english(written: str, channel: Channel) -> None:
    assert parse_channel(written) is channel


@pytest.mark.parametrize(("written", "kind"), [
    ("投诉", FeedbackKind.COMPLAINT), ("意见", FeedbackKind.SUGGESTION), ("建议", FeedbackKind.SUGGESTION),
    ("意见/建议", FeedbackKind.SUGGESTION), ("意见、建议", FeedbackKind.SUGGESTION),
    ("要求", FeedbackKind.REQUIREMENT), ("问询", FeedbackKind.INQUIRY), ("咨询", FeedbackKind.INQUIRY),
    ("表扬", FeedbackKind.PRAISE), ("评价", FeedbackKind.PRAISE), ("报修", FeedbackKind.REPAIR_REQUEST),
    ("Repair request", FeedbackKind.REPAIR_REQUEST), ("complaint", FeedbackKind.COMPLAINT),
])
def test_kinds_in_chinese_and_english(written: str, kind: FeedbackKind) -> None:
    assert parse_kind(written) is kind


@pytest.mark.parametrize("written", ["投诉/表扬", "来电", "system"])
def test_a_kind_or_channel_that_means_nothing_or_two_things_is_refused(written: str) -> None:
    with pytest.raises(CellInvalid, match="write 投诉"):
        parse_kind(written)
    if written != "来电":
        with pytest.raises(CellInvalid, match="write 来电"):
            parse_channel(written)  # "system" is another system's channel, never a logbook's


@pytest.mark.parametrize(("written", "expected"), [
    ("9:30", time(9, 30)), ("14:05:09", time(14, 5, 9)), ("下午3点20分", time(15, 20)), ("3:20 PM", time(15, 20)),
    ("12:10 am", time(0, 10)), ("晚上8时", time(20, 0)), ("中午12点", time(12, 0)), ("中午1点", time(13, 0)),
    ("上午9时", time(9, 0)), ("09：30", time(9, 30)), (0.75, time(18, 0)),
])
def test_times_of_day(written: object, expected: time) -> None:
    assert parse_clock(written) == expected


@pytest.mark.parametrize("written", ["25:00", "9:75", "早上好", "1.5"])
def test_a_time_that_is_not_one_is_refused(written: str) -> None:
    with pytest.raises(CellInvalid):
        parse_clock(written)


@pytest.mark.parametrize(("written", "expected"), [
    ("2024-03-05", (datetime(2024, 3, 5), False)),
    ("2024/3/5 9:30", (datetime(2024, 3, 5, 9, 30), True)),
    ("2024年3月5日 下午3点", (datetime(2024, 3, 5, 15, 0), True)),
    ("2024.3.5", (datetime(2024, 3, 5), False)),
    ("20240305", (datetime(2024, 3, 5), False)),
    ("2024-03-05T09:30:00+08:00", (datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=8))), True)),
    (datetime(2024, 3, 5, 8, 15), (datetime(2024, 3, 5, 8, 15), True)),
    (date(2024, 3, 5), (datetime(2024, 3, 5), False)),
    (45356, (datetime(2024, 3, 5), False)),  # an Excel date serial
])
def test_dates_with_and_without_a_time(written: object, expected: tuple[datetime, bool]) -> None:
    assert parse_moment(written) == expected


@pytest.mark.parametrize(("written", "reason"), [("2024-02-30", "calendar"), ("上周二", "YYYY-MM-DD")])
def test_a_date_that_is_not_one_is_refused(written: str, reason: str) -> None:
    with pytest.raises(CellInvalid, match=reason):
        parse_moment(written)


@pytest.mark.parametrize(("written", "expected"), [
    ("王先生 138-0013-8000", {"name": "王先生", "phone": "138-0013-8000"}),
    ("李女士，电话：0571-8888 6666", {"name": "李女士", "phone": "0571-8888 6666"}),
    ("zhang@example.com", {"email": "zhang@example.com"}),
    ("物业公司 陈经理", {"name": "物业公司 陈经理"}),
    (None, {}),
])
def test_a_contact_cell_is_split_into_name_phone_and_email(written: str | None, expected: dict) -> None:
    assert split_contact(written) == expected


# --- rows ---


def test_a_row_reports_every_bad_cell_at_once() -> None:
    with pytest.raises(EntryRefused) as info:
        entry_of({"date": "2024-13-01", "channel": "飞鸽传书", "kind": None, "text": " ", "received_by": None,
                  "org": "hx/east lakeside"})
    got = reasons(info)
    assert set(got) == {"date", "channel", "kind", "text", "received_by", "org"}
    assert got["date"] == "不是日历上的日期" and "来电" in got["channel"]
    assert got["kind"] == "必填（类别：投诉/意见/要求…）" and got["text"] == "必填（内容/事由）"
    assert got["received_by"] == "必填（接待人/记录人：首问负责人）"
    english = {p.field: p.reason_en for p in info.value.problems}
    assert english["date"] == "is not a date in the calendar" and english["text"] == "is required (内容/事由)"


def test_a_date_and_a_time_in_two_columns_make_one_moment() -> None:
    entry = entry_of({**ROW, "date": "2024年3月5日", "time": "下午3:20"})
    assert entry.received_at == datetime(2024, 3, 5, 15, 20)
    assert entry_of({**ROW, "time": None}).received_at == datetime(2024, 3, 5)  # a date alone: 00:00
    assert entry_of({**ROW, "time": "2024-03-05 16:10"}).received_at == datetime(2024, 3, 5, 16, 10)
    for other_day_or_no_time in ("2024-03-06 16:10", "午后"):
        with pytest.raises(EntryRefused) as info:
            entry_of({**ROW, "time": other_day_or_no_time})
        assert reasons(info) == {"time": "时间请写成 HH:MM"}


def test_a_time_column_alone_must_carry_the_date() -> None:
    cells = {k: v for k, v in ROW.items() if k != "date"}
    assert entry_of({**cells, "time": "2024-03-05 09:30"}).received_at == datetime(2024, 3, 5, 9, 30)
    with pytest.raises(EntryRefused) as info:
        entry_of({**cells, "time": "09:30"})
    assert reasons(info) == {"time": "请同时填写日期：2024-03-05 09:30"}
    with pytest.raises(EntryRefused) as info:
        entry_of({**cells, "time": None})
    assert set(reasons(info)) == {"time"}


def test_org_levels_in_columns_may_stop_early_but_not_skip_one() -> None:
    cells = {k: v for k, v in ROW.items() if k != "org"}
    assert entry_of({**cells, "group": "hx", "subsidiary": "east", "org_project": None}).org == OrgPath(
        group="hx", subsidiary="east")
    with pytest.raises(EntryRefused) as info:
        entry_of({**cells, "group": None, "subsidiary": "east", "org_project": "lakeside"})
    assert set(reasons(info)) == {"org"}
    assert entry_of(cells).org is None  # the registered project may still place it


def test_the_submission_is_the_one_http_would_send() -> None:
    entry = entry_of({**ROW, "contact_name": "王小明", "contact_phone": "138 0013 8000", "unit": "3-2-1201",
                      "project_id": "LS-01", "external_id": "2024-001"})
    submission = submission_of(entry, org=LAKESIDE, project_id="LS-01", zone=SHANGHAI)
    assert submission.received_at == datetime(2024, 3, 5, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    assert submission.contact is not None and submission.contact.phone == "+8613800138000"
    assert (submission.source_system, submission.external_id) == ("logbook", "hx/east/lakeside#2024-001")
    assert (submission.received_by, submission.unit, submission.project_id) == ("cs-0001", "3-2-1201", "LS-01")


def test_a_time_written_with_its_offset_keeps_it() -> None:
    entry = entry_of({**ROW, "date": "2024-03-05T09:30:00+09:00", "time": None})
    assert submission_of(entry, org=LAKESIDE, project_id=None, zone=SHANGHAI).received_at == datetime(
        2024, 3, 5, 0, 30, tzinfo=UTC)


def test_a_refused_submission_names_its_fields_without_echoing_personal_data() -> None:
    entry = entry_of({**ROW, "contact": "王小明 12345678", "unit": "x" * 65, "project_id": "湖畔 花园"})
    with pytest.raises(EntryRefused) as info:
        submission_of(entry, org=LAKESIDE, project_id="湖畔 花园", zone=SHANGHAI)
    got = reasons(info)
    assert set(got) == {"contact.phone", "unit", "project_id"}
    assert got["contact.phone"] == "不是有效的电话号码：请填写手机号、带区号的座机或 +国家代码"
    assert got["project_id"] == "请填写由字母、数字、'_'、'.'、'-' 组成的代码（以字母或数字开头）"
    english = {p.field: p.reason_en for p in info.value.problems}
    assert english["contact.phone"].startswith("not a valid phone number")
    assert "letters, digits" in english["project_id"]
    assert "12345678" not in str(info.value.problems) and "王小明" not in str(info.value.problems)


def test_without_a_number_the_external_id_is_a_hash_of_what_the_row_says() -> None:
    def external_id(**changes: object) -> str:
        entry = entry_of({**ROW, **changes})
        submission = submission_of(entry, org=LAKESIDE, project_id=None, zone=SHANGHAI)
        return external_id_of(entry, org=LAKESIDE, project_id=None, received_at=submission.received_at)

    first = external_id()
    assert first.startswith("row-") and len(first) == 36
    # the same entry typed as a CSV string or an XLSX date cell is the same entry
    assert external_id(date=datetime(2024, 3, 5), time=time(9, 30)) == first
    assert external_id(contact="王先生 13800138000") == first  # contact details are not hashed
    assert external_id(text="3号楼2单元1202卫生间漏水") != first
    assert external_id(time="09:31") != first
