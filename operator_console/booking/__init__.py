"""Bookings staff make on a patient's behalf: the call-centre agent, the doctor's in-clinic
follow-up and the community centre's referral; ``picking`` is their shared hospital →
department → session → period choice.
"""
