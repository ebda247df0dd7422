"""Writes the two survey files of tests/reference/clean/mini_raw/ (the other files are plain UTF-8 text).

The baseline file is in Thai Windows encoding (cp874) with CRLF line ends, the endline file in UTF-8
with BOM; both carry hand-planted defects listed in tests/test_clean_mini.py. Run from the repository
root: ``python tests/reference/clean/make_mini_raw.py``.
"""

from pathlib import Path

d = Path(__file__).resolve().parent / "mini_raw"
base = """vcode,vname,hhid,status,name,cid,tel,savings_bl,date,illness_rec,illness_amt
14010101,บ้านหนองบัว,14010101-001,สัมภาษณ์สำเร็จ,นายสมชาย ใจดี,3101001234565,081-234-5678,"๑,๕๐๐ บาท",15/01/2566,ได้รับ,500
14010101,บ้านหนองบัว,14010101-002,ปฏิเสธ,,,,,16/01/2566,,
14010101,บ้านหนองบัว,14010101-001,สัมภาษณ์สำเร็จ,นายสมชาย ใจดี,3101001234565,081-234-5678,"๑,๕๐๐ บาท",15/01/2566,ได้รับ,500
99999999,บ้านอื่น,99999999-001,สัมภาษณ์สำเร็จ,นางสาวมาลี ดีมาก,1409900012342,089-000-1111,200,15/01/2566,ไม่ได้รับ,0
16020301,บ้านดอนแดง,16020301-001,สัมภาษณ์สำเร็จ,นางมาลี ศรีสุข,5601200043214,,-9,17 ม.ค. 66,ไม่ได้รับ,0
16020301,บ้านดอนแดง,16020301-001,สัมภาษณ์สำเร็จ,นางมาลี ศรีสุข,5601200043215,,"2,500",17 ม.ค. 66,ไม่ได้รับ,0
14010102,บ้านโนนสุง,14010102-001,สัมภาษณ์สำเร็จ,นายต้น  ใจงาม,1234567890121,,800,18 มกราคม 2566,ไม่ได้รับ,300
16020302,บ้านท่าช้าง,16020302-001,สัมภาษณ์สำเร็จ,นางสาวสาย ทอง,,,"1,50",2566-01-19,ได้รับ,200
"""
(d / "survey_baseline.csv").write_bytes(base.replace("\n", "\r\n").encode("cp874"))
end = """vcode,vname,hhid,status,name,cid,tel,savings_el,date,illness_rec,illness_amt
14010101,บ้านหนองบัว,14010101-001,สัมภาษณ์สำเร็จ,นายสมชาย ใจดี,3101001234565,081-234-5678,"2,000",15/01/2567,ไม่ได้รับ,0
14010102,บ้านโนนสูง,14010102-009,สัมภาษณ์สำเร็จ,นาง\u200bแดง ดี,,,฿750.50,16/01/2567,ได้รับ,1000
"""
(d / "survey_endline.csv").write_bytes(end.encode("utf-8-sig"))
