"""Encoding detection, table reading, codebook validation, national IDs and pseudonyms."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_eval.clean.codebook import Codebook, read_codebook
from welfare_eval.clean.ids import (
    DEMO_KEY_SOURCE,
    KEY_ENV,
    load_key,
    national_id_check_digit,
    national_id_problem,
    pseudonymize,
)
from welfare_eval.clean.io import CleaningError, detect_encoding, read_table

THAI_TEXT = "ชื่อ,หมู่บ้าน\nนายสมชาย ใจดี,บ้านหนองบัว\nนางสาวมาลี,บ้านโนนสูง\n"


def test_encodings(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_bytes(THAI_TEXT.encode("utf-8"))
    (tmp_path / "b.csv").write_bytes(THAI_TEXT.encode("utf-8-sig"))
    (tmp_path / "t.csv").write_bytes(THAI_TEXT.encode("cp874"))
    (tmp_path / "i.csv").write_bytes(THAI_TEXT.encode("tis-620"))
    got = {p: read_table(tmp_path / f"{p}.csv") for p in "ubti"}
    assert [got[p].encoding for p in "ubti"] == ["utf-8", "utf-8-sig", "cp874", "cp874"]
    for p in "bti":
        pd.testing.assert_frame_equal(got[p].data, got["u"].data)
    assert list(got["u"].data.columns) == ["ชื่อ", "หมู่บ้าน"]


def test_unknown_encoding_is_an_error(tmp_path: Path) -> None:
    # Latin-1 accented text is not UTF-8 and its high bytes are not plausible Thai
    p = tmp_path / "latin.csv"
    p.write_bytes("name\nJosé Müller\n".encode("latin-1"))
    with pytest.raises(CleaningError, match=r"latin\.csv: unknown encoding"):
        read_table(p)
    assert detect_encoding(b"abc") == "utf-8"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("village,naïve\n1,café\n", "latin-1"),  # 0xEF, 0xE9 lie in the Thai block but stand alone
        ("Müller,Straße\n", "cp1252"),  # 0xFC is undefined in cp874
        ("привет,мир\n", "cp1251"),  # Cyrillic words: a vowel mark would start a word
    ],
)
def test_other_8bit_codepages_refused(tmp_path: Path, text: str, codec: str) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes(text.encode(codec))
    with pytest.raises(CleaningError, match=r"x\.csv: unknown encoding .*re-save the file as UTF-8"):
        read_table(p)


@pytest.mark.parametrize(
    ("content", "msg"),
    [(b"", "empty"), (b"\n\n", "empty"), (b"a,a\n1,2\n", "duplicate column"), (b"a,,c\n1,2,3\n", "no name")],
)
def test_bad_files(tmp_path: Path, content: bytes, msg: str) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes(content)
    with pytest.raises(CleaningError, match=msg) as exc:
        read_table(p)
    assert "x.csv" in str(exc.value) and "\n" not in str(exc.value)


def test_missing_and_unsupported(tmp_path: Path) -> None:
    with pytest.raises(CleaningError, match="not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "a.txt").write_text("a\n1\n")
    with pytest.raises(CleaningError, match="unsupported"):
        read_table(tmp_path / "a.txt")


def test_text_kept_verbatim(tmp_path: Path) -> None:
    p = tmp_path / "v.csv"
    p.write_text("code,amt,na\n01010101,\"1,500\",NA\n", encoding="utf-8")
    d = read_table(p).data
    assert d.loc[0, "code"] == "01010101" and d.loc[0, "amt"] == "1,500" and d.loc[0, "na"] == "NA"


def test_xlsx(tmp_path: Path) -> None:
    import datetime as dt

    df = pd.DataFrame({"ปี": [2566, 2567], "เงิน": ["1,500 บาท", 250.0], "วันที่": [dt.datetime(2024, 1, 5), None]})
    p = tmp_path / "w.xlsx"
    df.to_excel(p, index=False)
    r = read_table(p)
    assert r.encoding == "xlsx"
    assert r.data["ปี"].tolist() == ["2566", "2567"]
    assert r.data["เงิน"].tolist() == ["1,500 บาท", "250"]
    assert r.data["วันที่"].tolist() == ["2024-01-05", ""]


CB = pd.DataFrame(
    {
        "source": ["s_*.csv", "s_*.csv", "s_*.csv", "s_*.csv"],
        "raw_name": ["a", "b_old", "b_new", "nm"],
        "name": ["age", "amount", "amount", "head_name"],
        "table": ["households"] * 4,
        "type": ["int", "money", "money", "person_name"],
        "unit": ["years", "baht", "baht", ""],
        "allowed": ["", "", "", ""],
        "min": ["0", "0", "0", ""],
        "max": ["120", "", "", ""],
        "missing_codes": ["-9|99", "-9", "-9", ""],
        "label_th": ["อายุ", "จำนวนเงิน", "จำนวนเงิน", "ชื่อ"],
        "label_en": ["Age", "Amount", "Amount", "Name"],
        "waves": ["", "baseline", "midline|endline", ""],
        "pii": ["no", "no", "no", "no"],
    }
)


def test_codebook_ok_and_waves() -> None:
    cb = Codebook.from_frame(CB)
    assert cb.for_file("s_baseline.csv", wave="baseline")["raw_name"].tolist() == ["a", "b_old", "nm"]
    assert cb.for_file("s_endline.csv", wave="endline")["raw_name"].tolist() == ["a", "b_new", "nm"]
    # person_name is personal data whatever the pii column says
    assert cb.entries.loc[cb.entries["raw_name"] == "nm", "is_pii"].item()
    rows, unknown = cb.check_header("s_baseline.csv", ["a", "b_old", "nm", "extra"], wave="baseline")
    assert unknown == ["extra"] and len(rows) == 3
    with pytest.raises(CleaningError, match=r"column\(s\) \['b_old'\].*not in the file"):
        cb.check_header("s_baseline.csv", ["a", "nm"], wave="baseline")
    with pytest.raises(CleaningError, match="no codebook row"):
        cb.for_file("other.csv")


@pytest.mark.parametrize(
    ("change", "msg"),
    [
        ({"type": ["int", "money", "money", "wrong"]}, "unknown type"),
        ({"min": ["5", "0", "0", ""], "max": ["1", "", "", ""]}, "min 5.0 > max 1.0"),
        ({"min": ["x", "0", "0", ""]}, "is not a number"),
        ({"waves": ["", "baseline", "baseline|endline", ""]}, "same wave"),
        ({"raw_name": ["a", "a", "b_new", "nm"]}, "listed twice"),
        ({"waves": ["", "wave4", "midline", ""]}, "unknown wave"),
        ({"pii": ["maybe", "no", "no", "no"]}, "pii"),
        ({"name": ["", "amount", "amount", "head_name"]}, "empty 'name'"),
    ],
)
def test_codebook_errors(change: dict[str, list[str]], msg: str) -> None:
    bad = CB.copy()
    for k, v in change.items():
        bad[k] = v
    with pytest.raises(CleaningError, match=msg) as exc:
        Codebook.from_frame(bad, origin="codebook.csv")
    assert str(exc.value).startswith("codebook.csv")


def test_codebook_missing_column(tmp_path: Path) -> None:
    p = tmp_path / "codebook.csv"
    CB.drop(columns=["type"]).to_csv(p, index=False)
    with pytest.raises(CleaningError, match=r"codebook\.csv: codebook lacks column\(s\) \['type'\]"):
        read_codebook(p)
    CB.to_csv(p, index=False, encoding="cp874")
    assert read_codebook(p).entries.shape[0] == 4


def _check_digit_reference(first12: str) -> int:
    # independent form: weights 13..2 left to right, remainder subtracted from 11, last digit kept
    total = sum(w * int(d) for w, d in zip(range(13, 1, -1), first12, strict=True))
    return int(str(11 - total % 11)[-1])


def test_national_id_hand_example() -> None:
    # 1·13+2·12+3·11+4·10+5·9+6·8+7·7+8·6+9·5+0·4+1·3+2·2 = 352 = 32·11 → (11 − 0) mod 10 = 1
    assert national_id_check_digit("123456789012") == 1
    assert national_id_problem("1234567890121") is None
    assert national_id_problem("1-2345-67890-12-1") is None
    assert national_id_problem("1234567890122") == "national ID check digit (mod 11) is wrong"
    assert national_id_problem("123456789012") == "national ID is not 13 digits"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_national_id_check_digit_property(first12: str) -> None:
    d = national_id_check_digit(first12)
    assert d == _check_digit_reference(first12)
    assert national_id_problem(first12 + str(d)) is None
    assert national_id_problem(first12 + str((d + 1) % 10)) is not None


def test_pseudonyms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CleaningError, match="no pseudonym key"):
        load_key()
    demo = load_key(allow_demo=True)
    assert demo.source == DEMO_KEY_SOURCE and demo.is_demo
    assert load_key("demo").key == demo.key
    monkeypatch.setenv(KEY_ENV, "x" * 32)
    k = load_key()
    assert "environment" in k.source and "xxxx" not in repr(k)
    a = pseudonymize(["10010101-001", "10010101-002"], k)
    assert a == pseudonymize(["10010101-001", "10010101-002"], k)  # stable
    assert a[0] != a[1] and all(len(x) == 17 and x.startswith("H") for x in a)
    assert a != pseudonymize(["10010101-001", "10010101-002"], demo)  # keyed
    import hashlib
    import hmac

    hexd = hmac.new(b"x" * 32, b"10010101-001", hashlib.sha256).hexdigest()[:16]
    assert a[0] == "H" + "".join("abcdefghijklmnop"[int(c, 16)] for c in hexd)
    assert not any(ch.isdigit() for ch in "".join(a))
    keyfile = tmp_path / "k.key"
    keyfile.write_bytes(b"short")
    with pytest.raises(CleaningError, match="shorter"):
        load_key(keyfile)
    monkeypatch.delenv(KEY_ENV)
    home_key = tmp_path / ".config" / "welfare_eval" / "pseudonym.key"
    home_key.parent.mkdir(parents=True)
    home_key.write_bytes(b"y" * 40 + b"\n")
    assert load_key().key == b"y" * 40
