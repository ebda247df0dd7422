"""The fault corpus: small declarative mutations of the demo raw exports and what `welfare-eval clean` must do.

Each :class:`Fault` names the raw file it damages, a mutation (a function of the raw folder, built from the
helpers below) and the expected outcome:

- :func:`err` — a one-line error (exit status 2, no traceback) whose text matches a regular expression
  (it must name the file and, where there is one, the sheet, row and column), and the previous output
  set left exactly as it was;
- :func:`ok` — handled and reported (exit status 0) with the expected check rows (``rule → count``, an
  exact count or ``at_least(n)``), ledger statuses per file and an optional extra assertion on the
  output folder.

For every fault, ``tests/faults/test_faults.py`` also asserts that nothing is lost (ledger: read = kept
+ merged + rejected for every file) and nothing leaks (no national ID, phone number or name of the
demo households, and none planted by the fault, in any output file, the duplicates report or the
console), and that no CSV cell the package writes can run as a spreadsheet formula.

The corpus runs on a reduced demo (seed 7: 36 candidate villages, 3 matched pairs, 4 households per
village and wave, at least one planted defect of each kind) simulated once per test session.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

Mutation = Callable[[Path], None]

# a valid national ID (check digit by the mod-11 rule) and Thai phone numbers planted by the faults
PLANTED_ID = "1101700230708"
PLANTED_PHONE = "0812345678"
PLANTED = (PLANTED_ID, PLANTED_PHONE, "028765432")

SURVEY = "household_survey_{}.csv"
BASE, MID, END = (SURVEY.format(w) for w in ("baseline", "midline", "endline"))
VILLAGES = "study_villages.csv"
FRAME = "cdd_village_frame.csv"
BOOK = "savings_group_records.xlsx"
COMMITTEE = "committee_ratings.csv"
CODEBOOK = "codebook.csv"
_ENCODING = {FRAME: "utf-8-sig", COMMITTEE: "cp874"}


# --------------------------------------------------------------------------------------------------
# expectations
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AtLeast:
    n: int


def at_least(n: int) -> AtLeast:
    return AtLeast(n)


@dataclass(frozen=True)
class Expect:
    kind: str  # "error" or "ok"
    pattern: str = ""
    checks: dict[str, int | AtLeast] = field(default_factory=dict)
    status: dict[str, dict[str, int]] = field(default_factory=dict)
    extra: Callable[[Path, dict[str, Any]], None] | None = None
    env: dict[str, str | None] = field(default_factory=dict)


def err(pattern: str, **kw: Any) -> Expect:
    return Expect("error", pattern=pattern, **kw)


def ok(checks: dict[str, int | AtLeast] | None = None, status: dict[str, dict[str, int]] | None = None,
       extra: Callable[[Path, dict[str, Any]], None] | None = None, **kw: Any) -> Expect:
    return Expect("ok", checks=checks or {}, status=status or {}, extra=extra, **kw)


@dataclass(frozen=True)
class Fault:
    name: str
    file: str
    mutate: Mutation
    expect: Expect
    planted: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------
# mutation helpers
# --------------------------------------------------------------------------------------------------
def _enc(name: str) -> str:
    return _ENCODING.get(Path(name).name, "utf-8")


def read_rows(raw: Path, name: str) -> list[list[str]]:
    text = (raw / name).read_bytes().decode(_enc(name))
    return list(csv.reader(io.StringIO(text, newline="")))


def write_rows(raw: Path, name: str, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n" if _enc(name) == "cp874" else "\n").writerows(rows)
    enc = _enc(name)
    (raw / name).write_bytes(buf.getvalue().encode(enc))


def edit_rows(name: str, fn: Callable[[list[list[str]]], list[list[str]] | None]) -> Mutation:
    """Edit a CSV file as a list of records (header first); ``fn`` may edit in place or return new rows."""

    def m(raw: Path) -> None:
        rows = read_rows(raw, name)
        new = fn(rows)
        write_rows(raw, name, new if new is not None else rows)

    return m


def col(rows: list[list[str]], name: str) -> int:
    return rows[0].index(name)


def set_cell(name: str, column: str, value: str, *, row: int | None = None,
             where: Callable[[dict[str, str]], bool] | None = None, nth: int = 0, single: bool = True) -> Mutation:
    """Set one cell: by spreadsheet ``row`` (header = 1) or the ``nth`` record for which ``where`` holds
    (by default among the households listed once, not a planted duplicate or re-submission)."""

    def fn(rows: list[list[str]]) -> None:
        j = col(rows, column)
        if row is not None:
            rows[row - 1][j] = value
            return
        hits = [i for i, r in enumerate(rows[1:], start=1) if where is None or where(dict(zip(rows[0], r, strict=False)))]
        if single and "hh/hh_id" in rows[0]:  # a household listed once (not a planted duplicate or re-submission)
            k = col(rows, "hh/hh_id")
            seen = [r[k] for r in rows[1:]]
            hits = [i for i in hits if seen.count(rows[i][k]) == 1]
        rows[hits[nth]][j] = value

    return edit_rows(name, fn)


def edit_text(name: str, fn: Callable[[str], str], *, encoding: str | None = None) -> Mutation:
    def m(raw: Path) -> None:
        enc = _enc(name)
        text = (raw / name).read_bytes().decode(enc)
        (raw / name).write_bytes(fn(text).encode(encoding or enc))

    return m


def edit_bytes(name: str, fn: Callable[[bytes], bytes]) -> Mutation:
    def m(raw: Path) -> None:
        (raw / name).write_bytes(fn((raw / name).read_bytes()))

    return m


def edit_book(fn: Callable[[Any], None]) -> Mutation:
    """Edit the savings-group workbook with openpyxl (``fn(workbook)``)."""

    def m(raw: Path) -> None:
        from openpyxl import load_workbook

        wb = load_workbook(raw / BOOK)
        fn(wb)
        wb.save(raw / BOOK)

    return m


def write_file(rel: str, content: bytes | str) -> Mutation:
    def m(raw: Path) -> None:
        p = raw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    return m


def remove(rel: str) -> Mutation:
    def m(raw: Path) -> None:
        (raw / rel).unlink()

    return m


def codebook_rows(extra: list[list[str]]) -> Mutation:
    """Append codebook rows (``source, raw_name, name, table, type, …``; padded to the header)."""

    def fn(rows: list[list[str]]) -> None:
        for r in extra:
            rows.append(r + [""] * (len(rows[0]) - len(r)))

    return edit_rows(CODEBOOK, fn)


def corrections(rows: list[dict[str, str]], *, name: str = "faults.csv") -> Mutation:
    """Add a corrections file (beside the demo's own) with these rows."""
    cols = ["file", "sheet", "row", "submission", "key", "action", "column", "value", "reason"]

    def m(raw: Path) -> None:
        df = pd.DataFrame([{c: r.get(c, "") for c in cols} for r in rows], columns=cols)
        (raw / "corrections").mkdir(exist_ok=True)
        df.to_csv(raw / "corrections" / name, index=False)

    return m


def chain(*ms: Mutation) -> Mutation:
    def m(raw: Path) -> None:
        for x in ms:
            x(raw)

    return m


def add_column(name: str, header: str, values: Callable[[int, dict[str, str]], str], *, special: str | None = None
               ) -> Mutation:
    """Add a column; ``special`` goes to one interviewed household listed once, ``values(i, record)`` elsewhere."""

    def fn(rows: list[list[str]]) -> None:
        target = -1
        if special is not None:
            k, s = col(rows, "hh/hh_id"), col(rows, "consent/status")
            ids = [r[k] for r in rows[1:]]
            target = next(i for i, r in enumerate(rows[1:], start=1) if r[s] == INTERVIEWED and ids.count(r[k]) == 1)
        rows[0].append(header)
        for i, r in enumerate(rows[1:], start=1):
            r.append(special if i == target and special is not None else values(i, dict(zip(rows[0], r, strict=False))))

    return edit_rows(name, fn)


# --------------------------------------------------------------------------------------------------
# facts of the reduced demo used by the faults
# --------------------------------------------------------------------------------------------------
INTERVIEWED = "สัมภาษณ์สำเร็จ"


def interviewed(r: dict[str, str]) -> bool:
    return r.get("consent/status") == INTERVIEWED


def design(raw: Path) -> pd.DataFrame:
    return pd.read_csv(raw / VILLAGES, dtype=str, keep_default_na=False)


def _pilot(raw: Path, pair: int = 1) -> str:
    d = design(raw)
    return str(d.loc[(d["pair_id"] == str(pair)) & (d["arm"] == "pilot"), "village_id"].iloc[0])


def drop_village_rows(name: str, which: Callable[[Path], str]) -> Mutation:
    def m(raw: Path) -> None:
        v = which(raw)
        rows = read_rows(raw, name)
        j = col(rows, "village/village_code")
        write_rows(raw, name, [rows[0]] + [r for r in rows[1:] if r[j] != v])

    return m


def _non_study_village(raw: Path) -> str:
    f = pd.read_csv(raw / FRAME, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    study = set(design(raw)["village_id"])
    return str(next(v for v in f.iloc[:, 5] if v not in study))


def _conflict(name: str) -> Mutation:
    """Append a copy of the first interviewed row with a different savings answer (a new submission)."""

    def fn(rows: list[list[str]]) -> None:
        r0 = next(r for r in rows[1:] if dict(zip(rows[0], r, strict=False)).get("consent/status") == INTERVIEWED)
        new = list(r0)
        new[col(rows, "finance/savings")] = "123456"
        new[col(rows, "_uuid")] = "0f0e0d0c-0b0a-4999-8888-777766665555"
        new[col(rows, "_index")] = str(len(rows))
        rows.append(new)

    return edit_rows(name, fn)


def _first_interviewed_uuid(raw: Path, name: str) -> str:
    rows = read_rows(raw, name)
    return next(r[col(rows, "_uuid")] for r in rows[1:] if dict(zip(rows[0], r, strict=False)).get("consent/status")
                == INTERVIEWED)


def _keep_first(name: str, action: str = "keep", reason: str = "checked with the enumerator") -> Mutation:
    def m(raw: Path) -> None:
        uid = _first_interviewed_uuid(raw, name) if action == "keep" else "0f0e0d0c-0b0a-4999-8888-777766665555"
        corrections([{"file": name, "submission": uid, "action": action, "reason": reason}])(raw)

    return m


def _within_village_ids(raw: Path) -> None:
    for w in (BASE, MID, END):
        rows = read_rows(raw, w)
        j = col(rows, "hh/hh_id")
        for r in rows[1:]:
            r[j] = r[j].split("-", 1)[1] if "-" in r[j] else r[j]
        write_rows(raw, w, rows)


def _same_pseudonyms(out: Path, base: dict[str, Any]) -> None:
    hh = pd.read_parquet(out / "households.parquet")
    ref = base["tables"]["households"]
    assert len(hh) == len(ref)
    assert sorted(hh["hh_id"]) == sorted(ref["hh_id"])  # same households, same pseudonyms


def _dropped_pair(out: Path, base: dict[str, Any]) -> None:
    man = json.loads((out / "manifest.json").read_text("utf-8"))
    assert [d["pair_id"] for d in man["dropped_pairs"]] == [1] and man["dropped_pairs"][0]["villages"]
    v = pd.read_parquet(out / "villages.parquet")
    assert 1 not in set(v["pair_id"])


def _capped(out: Path, base: dict[str, Any]) -> None:
    c = pd.read_csv(out / "checks.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert c["value"].str.len().max() <= 202 and c["message"].str.contains("cut to 200").any()


def _neutral(out: Path, base: dict[str, Any]) -> None:
    c = pd.read_csv(out / "checks.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert c["value"].str.match(r"'[=+\-@\t\r]").any()  # the formula is kept as text, neutralised


def _line_numbers(out: Path, base: dict[str, Any]) -> None:
    """Rows after the cell with a line break start one physical line later than their row number."""
    led = pd.read_csv(out / "ledger.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    m = led[led["file"] == MID].astype({"row": int, "line": int}).sort_values("row")
    shifted = m["line"] - m["row"]
    assert set(shifted) == {0, 1} and shifted.is_monotonic_increasing


def _row_shift(out: Path, base: dict[str, Any]) -> None:
    led = pd.read_csv(out / "ledger.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    m = led[led["file"] == MID]
    assert m.loc[m["row"] == "6", "reason"].iloc[0] == "blank row"
    b = base["ledger"][base["ledger"]["file"] == MID]
    assert len(m) == len(b) + 1


def _title_row(out: Path, base: dict[str, Any]) -> None:
    led = pd.read_csv(out / "ledger.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    s = led[(led["file"] == BOOK)]
    first = s.groupby("sheet")["row"].apply(lambda x: min(int(v) for v in x))
    assert first.min() == 2 and first.max() == 3  # the sheet with a title row starts one row lower


# --------------------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------------------
def _py(name: str) -> str:
    return re.escape(name)


FAULTS: list[Fault] = [
    # ---- privacy: keys --------------------------------------------------------------------------------
    Fault("no_key_for_real_data", BASE, lambda raw: None,
          err(r"no pseudonym key: set \$WELFARE_EVAL_PSEUDONYM_KEY", env={"WELFARE_EVAL_PSEUDONYM_KEY": None})),
    Fault("key_too_short", BASE, lambda raw: None,
          err(r"shorter than 16 bytes", env={"WELFARE_EVAL_PSEUDONYM_KEY": "abc"})),
    # ---- privacy: personal data in odd places ---------------------------------------------------------
    Fault("national_id_in_hh_size", MID, set_cell(MID, "hh/hh_size", PLANTED_ID, where=interviewed),
          ok(checks={"pii_in_value": 1})),
    Fault("national_id_spaced_in_village_name", BASE,
          set_cell(BASE, "village/village_name", "1 1017 00230 70 5", where=interviewed),
          ok(checks={"pii_in_value": 1}), planted=("1 1017 00230 70 5",)),
    Fault("phone_in_village_name", END, set_cell(END, "village/village_name", "บ้านดี โทร 08 1234 5678", where=interviewed),
          ok(checks={"pii_in_value": 1}), planted=("08 1234 5678",)),
    Fault("intl_phone_in_frame_name", FRAME, set_cell(FRAME, "ชื่อหมู่บ้าน", "+66 81 234 5678", row=3),
          ok(checks={"pii_in_value": 1}), planted=("+66 81 234 5678",)),
    Fault("landline_in_study_village_name", VILLAGES, set_cell(VILLAGES, "village_name", "02-876-5432", row=2),
          ok(checks={"pii_in_value": 1}), planted=("02-876-5432",)),
    Fault("phone_in_money_cell", MID, set_cell(MID, "finance/savings", "081-234-5678", where=interviewed),
          ok(checks={"pii_in_value": 1}), planted=("081-234-5678",)),
    Fault("id_as_household_id", BASE, set_cell(BASE, "hh/hh_id", PLANTED_ID, where=interviewed),
          ok(checks={"pii_in_value": 1, "missing_id": 1}, status={BASE: {"rejected": 1}})),
    Fault("wrong_check_digit_national_id", BASE, set_cell(BASE, "hh/national_id", "1101700230706", where=interviewed),
          ok(checks={"national_id": 1}), planted=("1101700230706",)),
    Fault("pii_in_comment_column_string", MID, chain(
        add_column(MID, "note", lambda i, r: "ok", special=f"โทร {PLANTED_PHONE}"),
        codebook_rows([["household_survey_*.csv", "note", "note", "households", "string", "", "", "", "", "", "หมายเหตุ",
                        "Note", "baseline|midline|endline", "no"]]),
        add_column(BASE, "note", lambda i, r: ""), add_column(END, "note", lambda i, r: "")),
          ok(checks={"pii_in_value": 1})),
    Fault("pii_in_comment_column_text", MID, chain(
        add_column(MID, "note", lambda i, r: f"นายสมชาย โทร {PLANTED_PHONE}"),
        codebook_rows([["household_survey_*.csv", "note", "note", "households", "text", "", "", "", "", "", "หมายเหตุ",
                        "Note", "midline", "yes"]])),
          ok(checks={"pii_in_value": 0}), planted=("นายสมชาย",)),
    Fault("pii_in_unknown_column", END, add_column(END, "เบอร์ติดต่อ", lambda i, r: PLANTED_PHONE),
          ok(checks={"unknown_column": 1})),
    Fault("pii_as_column_name", END, add_column(END, PLANTED_PHONE, lambda i, r: "x"),
          ok(checks={"unknown_column": 1})),
    Fault("pii_in_file_name", BASE, write_file("household_survey_0812345678_baseline.csv", "a\n1\n"),
          err(r"raw file name holds a phone number; rename the file")),
    Fault("pii_in_correction_reason", BASE,
          chain(_conflict(BASE), _keep_first(BASE, reason=f"called the household on {PLANTED_PHONE}")),
          ok(checks={"duplicate_conflict": at_least(1)})),
    # ---- spreadsheet formulas and huge cells --------------------------------------------------------------
    Fault("formula_hyperlink_in_village_name", BASE,
          set_cell(BASE, "village/village_name", '=HYPERLINK("http://example.com/x","click")', where=interviewed),
          ok(checks={"village_name": at_least(1)}, extra=_neutral)),
    Fault("formula_dde_in_money", MID, set_cell(MID, "finance/debt", "=cmd|' /C calc'!A0", where=interviewed),
          ok(checks={"type": at_least(1)}, extra=_neutral)),
    Fault("formula_at_in_status", MID, set_cell(MID, "consent/status", "@SUM(1+1)", where=interviewed),
          ok(checks={"allowed_codes": at_least(1)}, status={MID: {"rejected": at_least(1)}}, extra=_neutral)),
    Fault("huge_cell_300k_chars", BASE, set_cell(BASE, "village/village_name", "บ้าน" + "ก" * 300_000, where=interviewed),
          ok(checks={"village_name": at_least(1)}, extra=_capped)),
    # ---- encodings ----------------------------------------------------------------------------------------
    Fault("bom_added", VILLAGES, edit_text(VILLAGES, lambda t: t, encoding="utf-8-sig"), ok()),
    Fault("saved_as_cp874", VILLAGES, edit_text(VILLAGES, lambda t: t, encoding="cp874"), ok()),
    Fault("latin1_text", COMMITTEE, write_file(COMMITTEE, "village,naïve\n1,café\n".encode("latin-1")),
          err(r"committee_ratings\.csv: unknown encoding")),
    Fault("utf16_with_bom", VILLAGES, edit_text(VILLAGES, lambda t: t, encoding="utf-16"), ok()),
    Fault("utf16_without_bom", VILLAGES, edit_text(VILLAGES, lambda t: t, encoding="utf-16-le"),
          err(r"study_villages\.csv: line 1 holds a NUL byte")),
    Fault("cut_inside_thai_character", END, edit_bytes(END, lambda b: b[: b.rindex("บ้าน".encode()) + 2]),
          err(r"household_survey_endline\.csv: the file ends in the middle of a character \(line \d+\)")),
    Fault("stray_byte_in_utf8", MID, edit_bytes(MID, lambda b: b.replace("บ้าน".encode(), b"\xff", 1)),
          err(r"household_survey_midline\.csv: line 2 holds byte 0xFF")),
    Fault("cr_only_line_ends", VILLAGES, edit_bytes(VILLAGES, lambda b: b.replace(b"\n", b"\r")), ok()),
    # ---- reading: every line accountable ------------------------------------------------------------------
    Fault("blank_line_inside", MID, edit_rows(MID, lambda rows: [*rows[:5], [], *rows[5:]]),
          ok(checks={"blank_row": 1}, status={MID: {"rejected": 1}}, extra=_row_shift)),
    Fault("blank_lines_at_end", MID, edit_bytes(MID, lambda b: b + b"\n\n\n"), ok(checks={"blank_row": 1})),
    Fault("last_line_cut_after_12_fields", END, edit_rows(END, lambda rows: [*rows[:-1], rows[-1][:12]]),
          ok(checks={"ragged_row": 1}, status={END: {"rejected": 1}})),
    Fault("row_with_extra_field", BASE, edit_rows(BASE, lambda rows: [*rows[:3], rows[3] + ["x"], *rows[4:]]),
          ok(checks={"ragged_row": 1}, status={BASE: {"rejected": 1}})),
    Fault("trailing_empty_field_everywhere", VILLAGES, edit_rows(VILLAGES, lambda rows: [[*r, ""] for r in rows]), ok()),
    Fault("quoted_newline_in_cell", MID, set_cell(MID, "village/village_name", "บ้าน\nใหม่", where=interviewed, nth=3),
          ok(checks={"village_name": at_least(1)}, extra=_line_numbers)),
    Fault("unterminated_quote", END, edit_bytes(END, lambda b: b[: b.rindex(b"\n", 0, -1) + 1] + b'"'
                                                 + b[b.rindex(b"\n", 0, -1) + 1:]),
          err(r"household_survey_endline\.csv: a quote opened in row \d+ \(line \d+\) is never closed")),
    Fault("bad_quoting", BASE, edit_bytes(BASE, lambda b: b.replace(b"\n", b'\n"x"y,', 1)),
          err(r"household_survey_baseline\.csv: row 2 \(line 2\) is not valid CSV")),
    Fault("nul_byte_inside", MID, edit_bytes(MID, lambda b: b[:500] + b"\x00" + b[500:]),
          err(r"household_survey_midline\.csv: line \d+ holds a NUL byte")),
    Fault("empty_file", COMMITTEE, write_file(COMMITTEE, b""), err(r"committee_ratings\.csv: file is empty")),
    Fault("header_only", VILLAGES, edit_rows(VILLAGES, lambda rows: rows[:1]), err(r"study_villages\.csv: no data rows")),
    Fault("semicolon_separated", VILLAGES, edit_text(VILLAGES, lambda t: t.replace(",", ";")),
          err(r"study_villages\.csv: the header has one column and contains ';'")),
    Fault("duplicate_header", VILLAGES, edit_rows(VILLAGES, lambda rows: [[*r, r[1]] for r in rows]),
          err(r"study_villages\.csv: duplicate column name 'village_name' \(columns 2 and 9\)")),
    Fault("header_with_spaces_and_zero_width", VILLAGES,
          edit_rows(VILLAGES, lambda rows: [[" pair\u200b_id " if c == "pair_id" else c for c in rows[0]], *rows[1:]]),
          ok(checks={"header": 1})),
    Fault("codebook_column_missing", END, edit_rows(END, lambda rows: [r[:-1] for r in rows]),
          err(r"household_survey_endline\.csv: column\(s\) \['_index'\] listed in the codebook \(wave endline\) are not in the file")),
    Fault("extra_unknown_column", VILLAGES, add_column(VILLAGES, "remark", lambda i, r: "ok"),
          ok(checks={"unknown_column": 1})),
    Fault("unnamed_column_with_data", VILLAGES, add_column(VILLAGES, "", lambda i, r: "x"),
          err(r"study_villages\.csv: column 9 \(row 1\) has no name but holds data")),
    Fault("title_rows_above_csv_header", VILLAGES,
          edit_rows(VILLAGES, lambda rows: [["รายชื่อหมู่บ้านในการศึกษา"], [], *rows]),
          ok(checks={"title_row": 1})),
    # ---- workbooks ----------------------------------------------------------------------------------------
    Fault("merged_title_row", BOOK, edit_book(lambda wb: (wb.worksheets[0].insert_rows(1),
                                                          wb.worksheets[0].__setitem__("A1", "รายงานกลุ่มออมทรัพย์ ปี 2567"),
                                                          wb.worksheets[0].merge_cells("A1:F1"))),
          ok(checks={"title_row": 1}, extra=_title_row)),
    Fault("extra_sheet_with_notes", BOOK, edit_book(lambda wb: wb.create_sheet("notes").append(["หมายเหตุ", "ผู้บันทึก"])),
          err(r"savings_group_records\.xlsx sheet 'notes': column\(s\) .* are not in the sheet; .*ignore_sheet")),
    Fault("extra_sheet_ignored_by_correction", BOOK, chain(
        edit_book(lambda wb: wb.create_sheet("notes").append(["หมายเหตุ"])),
        corrections([{"file": BOOK, "sheet": "notes", "action": "ignore_sheet", "reason": "notes of the accountant"}])),
          ok(checks={"sheet_ignored": 1})),
    Fault("empty_extra_sheet", BOOK, edit_book(lambda wb: wb.create_sheet("Sheet9")), ok(checks={"empty_sheet": 1})),
    Fault("formula_cell_without_saved_value", BOOK,
          edit_book(lambda wb: wb.worksheets[0].__setitem__("D2", "=1000+500")),
          ok(checks={"formula": 1})),
    Fault("workbook_truncated", BOOK, edit_bytes(BOOK, lambda b: b[: len(b) // 2]),
          err(r"savings_group_records\.xlsx: cannot read as Excel")),
    Fault("workbook_is_not_a_zip", BOOK, write_file(BOOK, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
          err(r"savings_group_records\.xlsx: cannot read as Excel")),
    Fault("sheet_row_shorter_header_gap", BOOK,
          edit_book(lambda wb: wb.worksheets[0].__setitem__("Z2", "ค่าที่หลงมา")),
          err(r"savings_group_records\.xlsx sheet '.+': column 26 \(row 1\) has no name but holds data")),
    Fault("same_village_year_on_two_sheets", BOOK,
          edit_book(lambda wb: wb.worksheets[1].append([c.value for c in wb.worksheets[0][2]])),
          err(r"conflicting duplicates \(e\.g\. savings_group_records\.xlsx rows 2, \d+: same village_id=\d{8}; year=\d{4}")),
    # ---- files --------------------------------------------------------------------------------------------
    Fault("raw_file_missing", COMMITTEE, remove(COMMITTEE), err(r"no raw file matches codebook source 'committee_ratings\.csv'")),
    Fault("codebook_missing", CODEBOOK, remove(CODEBOOK), err(r"no codebook\.csv or codebook\.xlsx")),
    Fault("unrelated_file_in_raw", BASE, write_file("notes.txt", "ลืมบันทึก"), ok()),
    Fault("source_exported_in_other_format", BASE, write_file("household_survey_extra_midline.xls", b"\x00\x01"),
          err(r"household_survey_extra_midline\.xls: looks like an export of codebook source 'household_survey_\*\.csv'")),
    # ---- values -------------------------------------------------------------------------------------------
    Fault("thai_digits_in_number", MID, set_cell(MID, "hh/hh_size", "๔", where=interviewed),
          ok(checks={"thai_digits@" + MID: 1})),
    Fault("be_year_in_iso_datetime", BASE, set_cell(BASE, "start", "2566-02-02T12:46:00.000+07:00", where=interviewed),
          ok(checks={"type": 1})),
    Fault("ce_year_in_be_year_column", BOOK, edit_book(lambda wb: wb.worksheets[0].__setitem__("C2", "2020")),
          ok(checks={"range": 1}, status={BOOK: {"rejected": 1}})),
    Fault("european_decimal_money", MID, set_cell(MID, "finance/savings", "1.500,00", where=interviewed), ok(checks={"type": 1})),
    Fault("likert_out_of_range", END, set_cell(END, "qol/q2", "7", where=interviewed), ok(checks={"range": 1})),
    Fault("word_in_integer", BASE, set_cell(BASE, "hh/head_age", "ห้าสิบ", where=interviewed), ok(checks={"type": 1})),
    Fault("village_code_seven_digits", MID, set_cell(MID, "village/village_code", "1234567", where=interviewed),
          ok(checks={"village_code": 2}, status={MID: {"rejected": 1}})),
    Fault("village_not_in_design_list", MID, lambda raw: set_cell(MID, "village/village_code", _non_study_village(raw),
                                                                  where=interviewed)(raw),
          err(r"household_survey_midline\.csv row \d+ column 'village/village_code': village \d{8} \(1 row\(s\)\) is not in "
              r"the design list")),
    Fault("household_id_missing", BASE, set_cell(BASE, "hh/hh_id", "", where=interviewed),
          ok(checks={"missing_id": 1}, status={BASE: {"rejected": 1}})),
    Fault("status_unknown", END, set_cell(END, "consent/status", "ไม่ทราบ", where=interviewed),
          ok(checks={"allowed_codes": 2}, status={END: {"rejected": 1}})),
    Fault("ids_numbered_within_village", BASE, _within_village_ids, ok(extra=_same_pseudonyms)),
    # ---- duplicates ---------------------------------------------------------------------------------------
    Fault("exact_duplicate_row", MID, edit_rows(MID, lambda rows: [*rows, rows[2]]),
          ok(checks={"duplicate_exact": at_least(1)}, status={MID: {"merged": at_least(1)}})),
    Fault("conflicting_duplicate_unsettled", BASE, _conflict(BASE),
          err(r"1 group\(s\) of conflicting duplicates \(e\.g\. household_survey_baseline\.csv rows \d+, \d+: same "
              r"village_id=\d{8}; hh_id=\d{8}-\d{3}, different finance/savings\); every row is listed in .*duplicates_report\.csv")),
    Fault("conflicting_duplicate_kept_by_correction", BASE, chain(_conflict(BASE), _keep_first(BASE)),
          ok(checks={"duplicate_conflict": at_least(1)}, status={BASE: {"merged": at_least(1)}})),
    Fault("conflicting_duplicate_dropped_by_correction", BASE, chain(_conflict(BASE), _keep_first(BASE, "drop")),
          ok(checks={"correction": 1}, status={BASE: {"rejected": 1}})),
    Fault("conflicting_duplicate_keep_latest_rule", BASE, chain(
        _conflict(BASE),
        set_cell(BASE, "_submission_time", "2030-01-01T00:00:00", where=lambda r: r["_uuid"].startswith("0f0e0d0c"),
                 single=False),
        corrections([{"file": BASE, "action": "keep_latest", "reason": "the latest submission is the corrected one"}])),
          ok(checks={"duplicate_conflict": at_least(1)})),
    Fault("correction_row_gone", BASE, corrections([{"file": BASE, "row": "999", "action": "drop", "reason": "x"}]),
          err(r"faults\.csv row 2: household_survey_baseline\.csv has no data row 999")),
    Fault("correction_unknown_action", BASE, corrections([{"file": BASE, "row": "3", "action": "delete", "reason": "x"}]),
          err(r"faults\.csv row 2: action 'delete' is not one of")),
    Fault("correction_without_reason", BASE, corrections([{"file": BASE, "row": "3", "action": "drop"}]),
          err(r"faults\.csv row 2: no reason given")),
    Fault("correction_key_guard_mismatch", BASE,
          corrections([{"file": BASE, "row": "3", "key": "village_id=11111111; hh_id=x", "action": "drop", "reason": "x"}]),
          err(r"faults\.csv row 2: household_survey_baseline\.csv row 3 no longer holds")),
    Fault("correction_keep_without_conflict", BASE, corrections([{"file": BASE, "row": "2", "action": "keep", "reason": "x"}]),
          err(r"faults\.csv row 2: household_survey_baseline\.csv row 2 has no conflicting duplicate")),
    Fault("correction_sets_new_id", BASE, chain(
        _conflict(BASE),
        lambda raw: corrections([{"file": BASE, "submission": "0f0e0d0c-0b0a-4999-8888-777766665555", "action": "set",
                                  "column": "hh/hh_id", "value": "NEWHH-1", "reason": "another household"}])(raw)),
          ok(checks={"correction": 1, "sample_size": at_least(1)})),
    Fault("duplicate_village_in_design_list", VILLAGES,
          edit_rows(VILLAGES, lambda rows: [*rows, [*rows[1][:-1], "5"]]),
          err(r"conflicting duplicates \(e\.g\. study_villages\.csv rows 2, 8: same village_id=\d{8}, different n_sampled\)")),
    # ---- the design list (§6) -----------------------------------------------------------------------------
    Fault("n_frame_zero", VILLAGES, set_cell(VILLAGES, "n_households", "0", row=4),
          err(r"study_villages\.csv row 4 column 'n_households': 0 is below the minimum 1")),
    Fault("n_frame_thai_words", VILLAGES, set_cell(VILLAGES, "n_households", "ประมาณ 300", row=4),
          err(r"study_villages\.csv row 4 column 'n_households': not a number")),
    Fault("blank_village_name_in_design", VILLAGES, set_cell(VILLAGES, "village_name", "", row=4), ok()),
    Fault("n_sampled_blank", VILLAGES, set_cell(VILLAGES, "n_sampled", "", row=5),
          err(r"study_villages\.csv row 5 column 'n_sampled': the value is missing")),
    Fault("n_sampled_negative", VILLAGES, set_cell(VILLAGES, "n_sampled", "-4", row=5),
          err(r"study_villages\.csv row 5 column 'n_sampled': -4 is below the minimum 1")),
    Fault("pair_id_thai_word", VILLAGES, set_cell(VILLAGES, "pair_id", "สอง", row=3),
          err(r"study_villages\.csv row 3 column 'pair_id': not a number")),
    Fault("n_larger_than_N", VILLAGES, set_cell(VILLAGES, "n_sampled", "5000", row=2),
          err(r"study_villages\.csv row 2 column 'n_sampled': n = 5000 households sampled but village \d{8} has N = \d+")),
    Fault("arm_unknown", VILLAGES, set_cell(VILLAGES, "arm", "ทดลอง", row=2),
          err(r"study_villages\.csv row 2 column 'arm': 'ทดลอง' is not an allowed code")),
    Fault("design_village_code_invalid", VILLAGES, set_cell(VILLAGES, "village_id", "1234", row=2),
          err(r"study_villages\.csv row 2 column 'village_id': ")),
    Fault("design_village_not_in_frame", VILLAGES,
          lambda raw: set_cell(VILLAGES, "village_id", design(raw)["village_id"].iloc[0][:6] + "98", row=2)(raw),
          err(r"study_villages\.csv row 2 column 'village_id': village \d{6}98 is not in the candidate frame")),
    Fault("design_row_cut_short", VILLAGES, edit_rows(VILLAGES, lambda rows: [*rows[:3], rows[3][:4], *rows[4:]]),
          err(r"study_villages\.csv row 4: row has 4 of 8 fields")),
    # ---- structure (§7) -----------------------------------------------------------------------------------
    Fault("pilot_without_endline", END, drop_village_rows(END, _pilot),
          err(r"household_survey_endline\.csv: pilot village \d{8} \(pair 1\) has no interviewed household in the endline")),
    Fault("pilot_without_endline_pair_dropped", END, chain(
        drop_village_rows(END, _pilot),
        corrections([{"action": "drop_pair", "value": "1", "reason": "no endline interviews (flood)"}])),
          ok(checks={"dropped_pair": at_least(1)}, extra=_dropped_pair)),
    Fault("whole_pair_missing_from_design", VILLAGES, edit_rows(VILLAGES, lambda rows: [rows[0], *rows[3:]]),
          err(r"village \d{8} \(\d+ row\(s\)\) is not in the design list")),
    Fault("two_pilots_in_one_pair", VILLAGES, set_cell(VILLAGES, "arm", "pilot", row=3),
          err(r"study_villages\.csv rows 2, 3 column 'arm': pair 1 has 2 pilot\(s\) and 0 comparison")),
    Fault("village_in_wrong_region", VILLAGES, set_cell(VILLAGES, "region", "9", row=3),
          err(r"study_villages\.csv row 3 column 'region': village \d{8} is in province \d\d of region \d+ .*not region 9")),
    Fault("comparison_moved_to_other_pair", VILLAGES, set_cell(VILLAGES, "pair_id", "2", row=3),
          err(r"study_villages\.csv rows 2 column 'arm': pair 1 has 1 pilot\(s\) and 0 comparison")),
    Fault("drop_pair_unknown_id", VILLAGES, corrections([{"action": "drop_pair", "value": "99", "reason": "x"}]),
          err(r"faults\.csv row 2: pair 99 is not in the design list study_villages\.csv")),
    # ---- codebook -----------------------------------------------------------------------------------------
    Fault("codebook_unknown_type", CODEBOOK, edit_text(CODEBOOK, lambda t: t.replace(",money,", ",monie,", 1)),
          err(r"codebook\.csv row \d+: unknown type 'monie'")),
    Fault("codebook_bad_key_flag", CODEBOOK, edit_text(CODEBOOK, lambda t: t.replace(",no,yes\n", ",no,maybe\n", 1)),
          err(r"codebook\.csv row \d+: key 'maybe' must be 'yes' or 'no'")),
    Fault("codebook_ragged_row", CODEBOOK, edit_text(CODEBOOK, lambda t: t + "extra.csv,a,b\n"),
          err(r"codebook\.csv row \d+ \(line \d+\): row has 3 of 15 fields")),
    Fault("codebook_household_key_without_hh_id", CODEBOOK,
          edit_rows(CODEBOOK, lambda rows: [[*r[:-1], "" if r[2] == "hh_id" and r[0].startswith("household") else r[-1]]
                                            for r in rows]),
          err(r"codebook\.csv: the key of household_survey_\w+\.csv must include the household id")),
]
