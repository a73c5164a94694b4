"""The sample Appointment in docs/his-fhir.md is what the adapter sends, field for field, and
every setting the plugin declares is in the document's table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from guahao.plugins.his.fhir import mapping
from guahao.plugins.his.fhir.adapter import effective
from guahao.plugins.his.fhir.meta import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "his-fhir.md"
BOOKING = {
    "id": "7K4MQ9XT2B", "date": "2026-03-10", "start": "08:00", "end": "08:30", "doctor_id": 3,
    "doctor_name": "王建国", "department_name": "呼吸内科", "channel": "web", "created_at": "2026-03-08T02:15:00Z",
    "his": {"hospital_code": "H001", "department_code": "03.01", "doctor_code": "D3", "campus_code": "2"},
    "patient": {"member_id": 5, "name": "李四", "id_number_masked": "3301**********1234",
                "id_number": "330102199001021234"},
}


def test_the_sample_appointment_is_the_adapters_own():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- sample: appointment -->\s*```json\n(.*?)```", text, re.S)
    assert block is not None
    made = mapping.new_appointment(BOOKING, ZoneInfo("Asia/Shanghai"), effective({}), slot="Slot/1201",
                                   practitioner="Practitioner/p-wang", patient_id="Patient/88")
    assert json.loads(block.group(1)) == made.model_dump(mode="json", exclude_none=True)


def test_every_setting_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`{name}`" not in text]
    assert missing == []
