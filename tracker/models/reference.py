"""Reference data an admin keeps: strands, budget categories and settings."""
from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Strand(Base):
    """A strand of the violence reduction strategy (e.g. Sexual Violence), or Cross-cutting. Unique: its name."""

    __tablename__ = "strands"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The strand's name as the strategy uses it.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: A sentence on what the strand covers.
    description: Mapped[str] = mapped_column(Text, default="")
    #: Position in lists and charts.
    sort_order: Mapped[int] = mapped_column(default=0)
    #: False hides it from choices for new records; old records keep it.
    active: Mapped[bool] = mapped_column(default=True)


class Category(Base):
    """A budget category (staffing, commissioned services, evaluation ...). Unique: its name."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The category's name as finance uses it.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: True when spend in this category is labour (staff costs) by default.
    labour: Mapped[bool] = mapped_column(default=False)
    #: Position in lists and returns.
    sort_order: Mapped[int] = mapped_column(default=0)
    #: False hides it from choices for new records.
    active: Mapped[bool] = mapped_column(default=True)


class Setting(Base):
    """A setting an admin can change (RAG thresholds, VRU name ...), stored as text. Unique: its key."""

    __tablename__ = "settings"

    #: The setting's key, e.g. ``rag_amber_percent``.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Its value as text; tracker.settings knows each one's type and default.
    value: Mapped[str] = mapped_column(Text)
