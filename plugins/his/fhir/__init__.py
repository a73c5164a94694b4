"""FHIR R4 HIS adapter (``fhir``): a client of the hospital's own FHIR server.

- ``adapter``: schedules from Schedule/Slot, bookings, moves and cancellations as Appointments
  (conditional create on our booking id), visit outcomes from Appointment and Encounter, health
  from ``metadata``;
- ``client``/``auth``: FHIR REST over the platform's HTTP client, OperationOutcome errors,
  bearer or SMART Backend Services authorization;
- ``mapping``: resources ↔ schedule items, appointments, visit outcomes (``fhir.resources`` R4B
  models, FHIR 4.0.1 on the wire);
- ``fake``: a small FHIR R4 server standing in for a hospital's, for tests and the demo.

Not to be confused with ``fhir_api``, the platform's own FHIR facade for third parties.
See ``docs/his-fhir.md``.
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from .adapter import NAME, FhirHis
from .meta import META  # noqa: F401  (the plugin's declaration)

__all__ = ["NAME", "FhirHis"]


@hookimpl
def guahao_his_adapters():
    return [FhirHis()]
