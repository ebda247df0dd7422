"""Codebook-driven, Thai-aware import of the raw exports (``data/raw`` → ``data/processed``).

In the spirit of the World Bank DIME tools (``iecodebook``, ``ieduplicates``, ``iecorrect``) and IPA's
high-frequency checks: the raw files are never edited, every correction is made in code from the codebook
or in a corrections file a person keeps with the raw data, every raw row is accounted for in a ledger, every
failed check is a row of a report, and no personal data reaches the processed tables or any log.

Entry point
-----------
``clean_all(raw_dir, out_dir, *, codebook=None, key=None, regions=None, demo=False, corrections=None,
drop_pairs=None, issues_dir=None) -> CleanResult`` reads every raw file named by the codebook's ``source`` patterns (CSV in
UTF-8, UTF-8 with BOM, UTF-16 with BOM or cp874 — detected and reported — and XLSX, every sheet), applies the
corrections (:mod:`welfare_eval.clean.corrections`), the codebook (rename, convert, recode, range and code
checks, Thai normalisation) and the identity rules (:mod:`welfare_eval.clean.duplicates`), builds and
validates the six tables, and publishes as one unit (:mod:`welfare_eval.clean.write`) into ``out_dir``:
``<table>.parquet``, ``ledger.csv``, ``checks.csv``, ``variables.csv`` and ``manifest.json`` (sha256 of inputs
and outputs, encodings, codebook, keys, corrections, dropped pairs, pseudonym-key source and fingerprint; no
timestamps, so reruns are identical). Later stages call :func:`verify_processed` before reading it.

Fail closed: without a pseudonymisation key the run stops, unless the caller passes ``demo=True`` (the
pipeline does so only when every raw file has the SHA-256 the simulator recorded); faults that make the
study's design uncertain stop the run with a one-line error naming file, sheet, row and column.

Processed tables (schemas in :mod:`welfare_eval.clean.schemas`)
--------------------------------------------------------------
``frame``       candidate village: village_id (8-digit string), village_name, region, province_code,
                district_code, subdistrict_code, n_households, covariates, eligibility flags, pilot.
``villages``    study village: village_id, village_name, region, province_code, arm (pilot/comparison),
                treated (0/1), pair_id, n_households (N), n_sampled (n per wave), frame covariates.
``households``  sampled household × wave (respondents and non-respondents): hh_id (HMAC pseudonym of the
                village code + household id, stable across waves), village_id, region, pair_id, arm, treated,
                wave (ordered categorical), year (C.E.), status, interviewed, panel (also sampled in the
                previous wave), n_population (N), n_sampled (n) — design weight N/n —, head_title, answers
                and outcomes (any_welfare, n_welfare_types, welfare_amount, savings, debt, coped, qol and
                self-reliance items and indexes, memberships, satisfaction). Answers refused by a
                check are missing, never guessed.
``benefits``    interviewed household × wave × welfare_type: received (0/1), amount (baht).
``admin``       savings group × C.E. year: members, savings, loans, profit, alloc_<code>, welfare_payout,
                closing_date, welfare_share (% of profit), welfare_payout_per_member, welfare fund
                fund_opening, fund_income_other, fund_income (= alloc_welfare + other), fund_closing,
                + region, pair_id, arm, treated.
``committee``   committee member × item: village_id, arm, treated, member_no, role, item, factor, score 1–5.

Building blocks: :mod:`welfare_eval.clean.thai` (Thai digits, Buddhist-Era dates, baht amounts, text
normalisation, title prefixes, village names), :func:`read_table` (encoding detection, every line
accounted for), :func:`read_codebook`, :func:`read_corrections`, :func:`national_id_check_digit`,
:func:`pii_kind` / :func:`mask_text` / :func:`find_pii` (IDs and phone numbers in any layout),
:func:`load_key` / :func:`pseudonymize`, :func:`verify_processed` / :class:`StaleDataError`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from welfare_eval.clean.codebook import Codebook, read_codebook
    from welfare_eval.clean.core import DUPLICATES_REPORT, TABLES, CleanResult, clean_all
    from welfare_eval.clean.corrections import read_corrections
    from welfare_eval.clean.ids import (
        KEY_ENV,
        PseudonymKey,
        load_key,
        national_id_check_digit,
        national_id_problem,
        pseudonymize,
    )
    from welfare_eval.clean.io import CleaningError, RawTable, detect_encoding, read_table
    from welfare_eval.clean.pii import find_pii, mask_text, pii_kind
    from welfare_eval.clean.schemas import validate_table
    from welfare_eval.clean.thai import (
        ThaiParseError,
        match_village_names,
        normalize_text,
        parse_baht,
        parse_be_date,
        parse_be_year,
        parse_be_year_month,
        split_title,
        thai_to_arabic_digits,
    )
    from welfare_eval.clean.write import StaleDataError, verify_processed

#: Where each public name lives. The submodules load on first use (PEP 562), so that importing one building block
#: (``welfare_eval.clean.thai`` from the monitoring forms, :func:`verify_processed` before a report) does not load
#: the whole cleaning stage with pandera's schemas (0.3 s, more where hypothesis is installed). The schema builder
#: ``schemas()`` is not re-exported: its name is that of its module, ``welfare_eval.clean.schemas``, which the
#: import system binds on the package once any module has imported it.
_SUBMODULES: dict[str, tuple[str, ...]] = {
    "codebook": ("Codebook", "read_codebook"),
    "core": ("DUPLICATES_REPORT", "TABLES", "CleanResult", "clean_all"),
    "corrections": ("read_corrections",),
    "ids": ("KEY_ENV", "PseudonymKey", "load_key", "national_id_check_digit", "national_id_problem", "pseudonymize"),
    "io": ("CleaningError", "RawTable", "detect_encoding", "read_table"),
    "pii": ("find_pii", "mask_text", "pii_kind"),
    "schemas": ("validate_table",),
    "thai": ("ThaiParseError", "match_village_names", "normalize_text", "parse_baht", "parse_be_date", "parse_be_year",
             "parse_be_year_month", "split_title", "thai_to_arabic_digits"),
    "write": ("StaleDataError", "verify_processed"),
}
_WHERE = {name: mod for mod, names in _SUBMODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = sorted(_WHERE)  # (the names the type checker sees are imported above, under TYPE_CHECKING)
