"""The service catalogue: what a resident can report, and who fixes it."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Service(SQLModel, table=True):
    """A category of report (an Open311 ``service_code``) and the department that handles it."""

    __tablename__ = "service"

    code: str = Field(primary_key=True, max_length=64)
    name_fr: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    description_fr: str = Field(default="", max_length=1000)
    description_en: str = Field(default="", max_length=1000)
    department: str = Field(max_length=100)
    group: str = Field(default="", max_length=100)
    target_days: int = Field(default=7, ge=0)
    # True: target_days counts working days (no weekends, no public holidays of the city).
    working_days: bool = Field(default=False)
    # Categories about people (noise, public order) are never shown report by report.
    about_people: bool = Field(default=False)
    active: bool = Field(default=True)
    sort_order: int = Field(default=0)

    def name(self, lang: str) -> str:
        """The service's name in ``lang`` (French unless English is asked)."""
        return self.name_en if lang == "en" else self.name_fr
