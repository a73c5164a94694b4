"""After the visit (R9.2, R10): satisfaction surveys, doctor reviews, complaints, and the
announcements and knowledge articles the platform publishes (R10.4).

Only a member who was actually seen (a checked-in booking of their own) may survey a visit
or review its doctor, once per booking; complaints are visible to their author and answered
by hospital staff through :func:`complaints.reply_to_complaint`.
"""
