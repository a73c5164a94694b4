"""After the visit (R9.2, R10): surveys, doctor reviews, complaints; and what the platform
publishes for patients: hospital announcements and medical knowledge articles (R10.4)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class SurveyResponse(TenantModel, table=True):
    """A member's satisfaction survey of one checked-in visit (one per booking)."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("city_id", "booking_id"),
        Index("ix_survey_responses_scope", "city_id", "hospital_id", "department_id", "doctor_id", "visit_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(foreign_key="bookings.id", max_length=24)
    member_id: int = Field(foreign_key="members.id")
    hospital_id: int = Field(foreign_key="hospitals.id")
    department_id: int = Field(foreign_key="departments.id")
    doctor_id: int = Field(foreign_key="doctors.id")
    visit_date: date
    overall: int  # 1–5
    waiting: int  # 1–5, waiting time
    attitude: int  # 1–5, doctor's attitude
    comment: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)


class ReviewStatus(StrEnum):
    pending = "pending"
    published = "published"
    rejected = "rejected"


class DoctorReview(TenantModel, table=True):
    """A rating of a doctor by a member who was seen (one per checked-in booking)."""

    __tablename__ = "doctor_reviews"
    __table_args__ = (
        UniqueConstraint("city_id", "booking_id"),
        Index("ix_doctor_reviews_doctor", "city_id", "doctor_id", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(foreign_key="bookings.id", max_length=24)
    member_id: int = Field(foreign_key="members.id")
    doctor_id: int = Field(foreign_key="doctors.id")
    hospital_id: int = Field(foreign_key="hospitals.id")
    rating: int  # 1–5
    comment: str = Field(default="", max_length=1000)
    status: ReviewStatus = Field(default=ReviewStatus.published, sa_type=String(20))
    moderated_by: str = Field(default="", max_length=80)
    moderated_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ComplaintStatus(StrEnum):
    submitted = "submitted"
    replied = "replied"
    closed = "closed"


class Complaint(TenantModel, table=True):
    """A member's complaint about a hospital (R10.2), answered by the hospital's staff."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_member", "city_id", "member_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    hospital_id: int = Field(foreign_key="hospitals.id")
    booking_id: str | None = Field(default=None, foreign_key="bookings.id", max_length=24)
    category: str = Field(max_length=30)
    text: str = Field(max_length=2000)
    status: ComplaintStatus = Field(default=ComplaintStatus.submitted, sa_type=String(20))
    reply: str = Field(default="", max_length=2000)
    replied_by: str = Field(default="", max_length=80)
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Announcement(TenantModel, table=True):
    """A hospital's notice to patients (停诊、搬迁、新科室…)."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_published", "city_id", "published_at"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id")
    title: str = Field(max_length=200)
    body: str = Field(max_length=10000)
    published_at: datetime = Field(default_factory=utcnow)


class Article(TenantModel, table=True):
    """A medical knowledge article (健康科普) published by the city platform."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (Index("ix_knowledge_articles_published", "city_id", "published_at"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    category: str = Field(default="", max_length=40)
    body: str = Field(max_length=20000)
    published_at: datetime = Field(default_factory=utcnow)
