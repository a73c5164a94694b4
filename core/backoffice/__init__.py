"""Hospital back office and call-centre services (R5.7, R5.8, R8, R11, R12.2).

One module per job: ``templates`` (weekly templates → sessions), ``pools`` (capacities, early
release), ``roster`` (booking list, check-in), ``change_plan``/``changes`` (停诊/调班),
``referrals`` (in-clinic and referral bookings), ``patients`` and ``agent`` (the call centre),
``complaints`` (a hospital's complaints). Services take the runtime, explicit ids and the
acting staff member (``core.audit.Actor``); the console enforces roles and passes the staff
member's hospital as ``hospital_id``.
"""
